"""Admin for agencies and their people, units, volunteers, routing and (read-only) assignments.

Agency supervisors (and volunteer coordinators, for volunteers) manage their own agency's units,
members and volunteers here, and may give members only agency roles; assignments and shares are
those of the incidents the staff user may see (``incidents.selectors``); the access log is for
administrators and auditors.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from incidents.admin import AdministratorAdminMixin, IncidentScopedAdminMixin, ReadOnlyAdminMixin
from semarang112.exceptions import ApplicationError

from . import services
from .access import AGENCY_ROLES, ASSIGNMENT_CANCEL, access_for, require
from .models import (
    AccessEvent,
    Agency,
    Assignment,
    FieldUnit,
    IncidentShare,
    Membership,
    Role,
    RoutingRule,
    Volunteer,
)


class AgencyScopedAdminMixin:
    """Agency supervisors (and volunteer coordinators, for volunteers) manage their own agency's
    rows here without Django model permissions; superusers and administrators see everything."""

    manager_roles: tuple[str, ...] = (Role.AGENCY_SUPERVISOR,)
    agency_field = "agency"

    def managed_agency_ids(self, request) -> set[int] | None:
        """None = unrestricted (superuser / administrator)."""
        access = access_for(request.user)
        if request.user.is_superuser or access.is_administrator:
            return None
        return {pk for pk, roles in access.agency_roles.items() if set(roles) & set(self.manager_roles)}

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        managed = self.managed_agency_ids(request)
        if managed is None:
            return queryset
        return queryset.filter(**{f"{self.agency_field}__in": managed})

    def _may_manage(self, request, obj=None) -> bool:
        managed = self.managed_agency_ids(request)
        if managed is None:
            return True
        if not managed:
            return False
        return obj is None or getattr(obj, f"{self.agency_field}_id") in managed

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff and self._may_manage(request)

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request) and self._may_manage(request, obj)

    has_change_permission = has_view_permission
    has_add_permission = has_view_permission

    def has_delete_permission(self, request, obj=None):
        return self.has_view_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        managed = self.managed_agency_ids(request)
        if db_field.name == self.agency_field and managed is not None:
            kwargs["queryset"] = Agency.objects.filter(pk__in=managed)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_autocomplete_fields(self, request):
        # Autocomplete asks the related model's admin, which a scoped manager may not open: plain
        # choices (already limited to their agencies) instead.
        if self.managed_agency_ids(request) is not None:
            return []
        return super().get_autocomplete_fields(request)


class MembershipForm(forms.ModelForm):
    """A field officer's unit must belong to the membership's own agency."""

    class Meta:
        model = Membership
        fields = ["user", "agency", "role", "unit", "is_active"]

    def clean(self):
        data = super().clean()
        agency = data.get("agency") or getattr(self.instance, "agency", None)
        unit = data.get("unit")
        if unit is not None and agency is not None and unit.agency_id != agency.pk:
            self.add_error("unit", gettext("The unit belongs to another agency."))
        return data


class MembershipInline(admin.TabularInline):
    model = Membership
    form = MembershipForm
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "unit", "is_active", "created_at"]
    readonly_fields = ["created_at"]


class FieldUnitInline(admin.TabularInline):
    model = FieldUnit
    extra = 0
    fields = ["code", "name", "kind", "home_district", "status"]


@admin.register(Agency)
class AgencyAdmin(AdministratorAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "kind", "region", "phone", "is_active"]
    list_filter = ["kind", "is_active", "region"]
    search_fields = ["code", "name"]
    inlines = [MembershipInline, FieldUnitInline]

    def save_formset(self, request, form, formset, change):
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        before = {m.pk: _membership_state(m) for m in formset.queryset}
        instances = formset.save(commit=False)
        for membership in formset.deleted_objects:
            user = membership.user
            membership.delete()
            services.membership_record_change(
                actor=request.user,
                membership=Membership(user=user, agency=form.instance, role=membership.role, is_active=False),
                kind=AccessEvent.Kind.MEMBERSHIP_REMOVED,
                before=before.get(membership.pk),
            )
        for membership in instances:
            adding = membership.pk is None
            membership.save()
            services.membership_record_change(
                actor=request.user,
                membership=membership,
                kind=AccessEvent.Kind.MEMBERSHIP_ADDED if adding else AccessEvent.Kind.MEMBERSHIP_CHANGED,
                before=None if adding else before.get(membership.pk),
            )
        formset.save_m2m()


def _membership_state(membership: Membership) -> dict:
    return {"role": membership.role, "is_active": membership.is_active, "unit": membership.unit_id}


@admin.register(Membership)
class MembershipAdmin(AgencyScopedAdminMixin, admin.ModelAdmin):
    form = MembershipForm
    list_display = ["user", "agency", "role", "unit", "is_active", "created_at"]
    list_filter = ["role", "is_active", "agency"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "agency__code", "agency__name"]
    autocomplete_fields = ["user", "agency"]
    list_select_related = ["user", "agency", "unit"]

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        # An agency supervisor gives agency roles only: never command-center, auditor or
        # administrator roles (which would read every incident), not even to themselves.
        if db_field.name == "role" and self.managed_agency_ids(request) is not None:
            kwargs["choices"] = [(value, label) for value, label in Role.choices if value in AGENCY_ROLES]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        managed = self.managed_agency_ids(request)
        if db_field.name == "unit" and managed is not None:
            kwargs["queryset"] = FieldUnit.objects.filter(agency_id__in=managed)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        before = _membership_state(Membership.objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        kind = AccessEvent.Kind.MEMBERSHIP_CHANGED if change else AccessEvent.Kind.MEMBERSHIP_ADDED
        services.membership_record_change(actor=request.user, membership=obj, kind=kind, before=before)

    def delete_model(self, request, obj):
        before = _membership_state(obj)
        super().delete_model(request, obj)
        obj.is_active = False
        services.membership_record_change(
            actor=request.user, membership=obj, kind=AccessEvent.Kind.MEMBERSHIP_REMOVED, before=before
        )

    def delete_queryset(self, request, queryset):
        for membership in queryset:
            self.delete_model(request, membership)


@admin.register(RoutingRule)
class RoutingRuleAdmin(AdministratorAdminMixin, admin.ModelAdmin):
    list_display = ["category", "district", "agency", "order", "is_active"]
    list_filter = ["is_active", "category", "agency"]
    search_fields = ["category__code", "agency__code", "district__name"]
    autocomplete_fields = ["category", "district", "agency"]
    list_select_related = ["category", "district", "agency"]


@admin.register(FieldUnit)
class FieldUnitAdmin(AgencyScopedAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "agency", "kind", "home_district", "status"]
    list_filter = ["status", "agency", "home_district"]
    search_fields = ["code", "name"]
    list_select_related = ["agency", "home_district"]


@admin.register(Volunteer)
class VolunteerAdmin(AgencyScopedAdminMixin, admin.ModelAdmin):
    manager_roles = (Role.AGENCY_SUPERVISOR, Role.VOLUNTEER_COORDINATOR)
    agency_field = "community"

    list_display = ["name", "community", "phone", "skills", "is_available"]
    list_filter = ["is_available", "community"]
    search_fields = ["name", "phone", "skills"]
    filter_horizontal = ["districts"]
    list_select_related = ["community"]


@admin.action(description=_("Withdraw selected assignments (command center re-routing)"))
def cancel_assignments(modeladmin, request, queryset):
    done = 0
    # The changelist's queryset already went through the selector (get_queryset).
    for assignment in queryset.select_related("incident"):
        try:
            require(request.user, ASSIGNMENT_CANCEL, assignment=assignment)
            services.assignment_cancel(
                assignment=assignment, actor=request.user, reason=gettext("Withdrawn in the admin.")
            )
            done += 1
        except ApplicationError as exc:
            modeladmin.message_user(request, f"#{assignment.pk}: {exc.message}", messages.ERROR)
    if done:
        modeladmin.message_user(request, gettext("%(count)d assignment(s) withdrawn.") % {"count": done})


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["incident", "agency", "status", "requested_at", "acknowledged_at", "on_scene_at", "completed_at"]
    list_filter = ["status", "agency"]
    search_fields = ["=incident__reference"]
    list_select_related = ["incident", "agency"]
    date_hierarchy = "requested_at"
    actions = [cancel_assignments]

    def get_queryset(self, request):
        from incidents.selectors import assignment_list_for_user

        if request.user.is_superuser:
            return super().get_queryset(request)
        return assignment_list_for_user(request.user).select_related("incident", "agency")

    def has_change_permission(self, request, obj=None):
        # Needed for actions to show in the changelist; the change form stays read-only.
        return obj is None and request.user.has_perm("dispatch.change_assignment")


@admin.register(IncidentShare)
class IncidentShareAdmin(IncidentScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["incident", "agency", "level", "granted_by", "granted_at", "expires_at", "revoked_at"]
    list_filter = ["level", "agency"]
    search_fields = ["=incident__reference", "agency__code"]
    list_select_related = ["incident", "agency", "granted_by"]


@admin.register(AccessEvent)
class AccessEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Membership, role and share changes: who, when, what — for administrators."""

    list_display = ["created_at", "kind", "actor", "actor_label", "user", "agency", "incident"]
    list_filter = ["kind", "agency"]
    search_fields = ["user__username", "actor__username", "=incident__reference"]
    list_select_related = ["actor", "user", "agency", "incident"]
    date_hierarchy = "created_at"

    def _reader(self, request) -> bool:
        if not (request.user.is_active and request.user.is_staff):
            return False
        access = access_for(request.user)
        return request.user.is_superuser or access.is_administrator or access.is_auditor

    def has_module_permission(self, request):
        return self._reader(request)

    def has_view_permission(self, request, obj=None):
        return self._reader(request)

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]
