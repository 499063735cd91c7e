"""Admin for agencies and their people, units, volunteers, routing and (read-only) assignments."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from incidents.admin import ReadOnlyAdminMixin
from semarang112.exceptions import ApplicationError

from . import services
from .models import Agency, Assignment, FieldUnit, Membership, RoutingRule, Volunteer


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "unit", "is_active", "created_at"]
    readonly_fields = ["created_at"]


class FieldUnitInline(admin.TabularInline):
    model = FieldUnit
    extra = 0
    fields = ["code", "name", "kind", "home_district", "status"]


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "kind", "region", "phone", "is_active"]
    list_filter = ["kind", "is_active", "region"]
    search_fields = ["code", "name"]
    inlines = [MembershipInline, FieldUnitInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "agency", "role", "unit", "is_active", "created_at"]
    list_filter = ["role", "is_active", "agency"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "agency__code", "agency__name"]
    autocomplete_fields = ["user", "agency"]
    list_select_related = ["user", "agency", "unit"]


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ["category", "district", "agency", "order", "is_active"]
    list_filter = ["is_active", "category", "agency"]
    search_fields = ["category__code", "agency__code", "district__name"]
    autocomplete_fields = ["category", "district", "agency"]
    list_select_related = ["category", "district", "agency"]


@admin.register(FieldUnit)
class FieldUnitAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "agency", "kind", "home_district", "status"]
    list_filter = ["status", "agency", "home_district"]
    search_fields = ["code", "name"]
    list_select_related = ["agency", "home_district"]


@admin.register(Volunteer)
class VolunteerAdmin(admin.ModelAdmin):
    list_display = ["name", "community", "phone", "skills", "is_available"]
    list_filter = ["is_available", "community"]
    search_fields = ["name", "phone", "skills"]
    filter_horizontal = ["districts"]
    list_select_related = ["community"]


@admin.action(description=_("Withdraw selected assignments (command center re-routing)"))
def cancel_assignments(modeladmin, request, queryset):
    done = 0
    for assignment in queryset.only("pk"):
        try:
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

    def has_change_permission(self, request, obj=None):
        # Needed for actions to show in the changelist; the change form stays read-only.
        return obj is None and request.user.has_perm("dispatch.change_assignment")

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]
