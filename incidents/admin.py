"""Admin for places, categories, calls, incidents and the (read-only) timeline.

The admin never writes a status: state changes are admin actions that call the services, and
incident edits go through ``incident_create`` / ``incident_update`` / ``incident_change_category``.

Staff who are not superusers get the same rules as in the API and the console: incidents and
every row hanging off one (timeline, assignments, shares, SLA events, webhook deliveries) come
through ``incidents.selectors``, calls through ``call_list_for_user``, each action and edit is
checked with ``dispatch.access.require``, and caller data is masked where
``personal_data_visible`` says so. Administrators (the role) manage agencies, memberships,
categories and routing without Django model permissions.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from dispatch import access
from dispatch.access import access_for, allowed_actions, personal_data_visible, require
from dispatch.models import RoutingRule
from semarang112.api.fields import mask_name, mask_phone
from semarang112.exceptions import ApplicationError

from . import services, webhooks
from .models import (
    Call,
    CallerNumber,
    Category,
    District,
    Incident,
    Notification,
    Region,
    SlaEvent,
    SlaPolicy,
    SweepHeartbeat,
    TimelineEvent,
    Village,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEventType,
    WebhookSubscription,
)
from .selectors import call_list_for_user, incident_list_for_user


class ReadOnlyAdminMixin:
    """Viewable, never changed or deleted from the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class IncidentScopedAdminMixin:
    """Rows that belong to an incident: only those of incidents the staff user may see (the one
    visibility selector); superusers see all. An invisible row's change page redirects like a
    missing one."""

    incident_field = "incident"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        visible = incident_list_for_user(request.user).values("pk")
        return queryset.filter(**{f"{self.incident_field}__in": visible})


class AdministratorAdminMixin:
    """Administrators (the membership role) manage these rows without Django model permissions."""

    def _administrator(self, request) -> bool:
        return request.user.is_active and request.user.is_staff and access_for(request.user).is_administrator

    def has_module_permission(self, request):
        return self._administrator(request) or super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return self._administrator(request) or super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return self._administrator(request) or super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return self._administrator(request) or super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._administrator(request) or super().has_delete_permission(request, obj)


def _personal_data_allowed(request) -> bool:
    """Principal-level: may this staff user see caller data at all (calls, searches by number)?"""
    return request.user.is_superuser or access_for(request.user).can_see_personal_data


def _mask_caller(obj) -> None:
    """Mask the caller fields on an instance the admin only shows (never saved afterwards)."""
    obj.caller_name = mask_name(obj.caller_name)
    obj.caller_number = mask_phone(obj.caller_number)


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "reference_prefix"]
    search_fields = ["code", "name"]


class VillageInline(admin.TabularInline):
    model = Village
    extra = 0


@admin.register(District)
class DistrictAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "region"]
    list_filter = ["region"]
    search_fields = ["name", "code"]
    inlines = [VillageInline]


@admin.register(Village)
class VillageAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "district"]
    list_filter = ["district__region", "district"]
    search_fields = ["name", "code"]
    list_select_related = ["district"]


class RoutingRuleInline(admin.TabularInline):
    model = RoutingRule
    extra = 0
    autocomplete_fields = ["agency", "district"]


@admin.register(Category)
class CategoryAdmin(AdministratorAdminMixin, admin.ModelAdmin):
    list_display = [
        "code",
        "name_id",
        "name_en",
        "parent",
        "default_priority",
        "sla_dispatch_minutes",
        "sla_acknowledge_minutes",
        "sla_response_minutes",
        "is_active",
    ]
    list_filter = ["is_active", "default_priority", "parent"]
    search_fields = ["code", "name_id", "name_en"]
    list_select_related = ["parent"]
    inlines = [RoutingRuleInline]


@admin.register(CallerNumber)
class CallerNumberAdmin(admin.ModelAdmin):
    list_display = ["number", "prank_count", "is_flagged", "blocked_until", "updated_at"]
    list_filter = ["is_flagged"]
    search_fields = ["number"]
    readonly_fields = ["prank_count", "updated_at"]

    def save_model(self, request, obj, form, change):
        record = services.caller_number_set_flag(
            number=obj.number, flagged=obj.is_flagged, blocked_until=obj.blocked_until, note=obj.note
        )
        obj.pk = record.pk


def _search_with_normalized_number(parent, request, queryset, search_term):
    """Numbers are stored as +62…; also find them when typed as 0812-… or 62812…."""
    results, may_have_duplicates = parent.get_search_results(request, queryset, search_term)
    number = services.normalize_caller_number(search_term)
    if number and number != search_term.strip():
        results |= queryset.filter(caller_number=number)
    return results, may_have_duplicates


@admin.register(Call)
class CallAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["started_at", "channel", "caller_number", "outcome", "incident", "operator"]
    list_filter = ["outcome", "channel", "region"]
    search_fields = ["caller_number", "incident__reference"]
    list_select_related = ["incident", "operator"]
    date_hierarchy = "started_at"

    def get_queryset(self, request):
        if request.user.is_superuser:
            return super().get_queryset(request)
        return call_list_for_user(request.user).select_related("incident", "operator")

    def get_list_display(self, request):
        if _personal_data_allowed(request):
            return self.list_display
        return [name if name != "caller_number" else "masked_caller_number" for name in self.list_display]

    @admin.display(description=_("caller number"))
    def masked_caller_number(self, call):
        return mask_phone(call.caller_number)

    def get_search_fields(self, request):
        if _personal_data_allowed(request):
            return self.search_fields
        return ["incident__reference"]  # no probing by number without the right to see numbers

    def get_object(self, request, object_id, from_field=None):
        call = super().get_object(request, object_id, from_field)
        if call is not None and not _personal_data_allowed(request):
            _mask_caller(call)
        return call

    def get_search_results(self, request, queryset, search_term):
        if not _personal_data_allowed(request):
            return super().get_search_results(request, queryset, search_term)
        return _search_with_normalized_number(super(), request, queryset, search_term)


class TimelineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = TimelineEvent
    fields = ["created_at", "kind", "from_state", "to_state", "actor", "actor_label", "note", "payload"]
    readonly_fields = fields
    extra = 0
    ordering = ["created_at", "id"]
    fk_name = "incident"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        if obj is not None and not request.user.is_superuser and not personal_data_visible(request.user, obj):
            fields.remove("payload")  # edits carry the old and new caller data
        return fields


def _run_action(modeladmin, request, queryset, service, action: str, success: str, **kwargs):
    done = 0
    # The changelist's queryset already went through the selector (get_queryset).
    for incident in queryset.select_related(None).only("pk", "reference", "region_id"):
        try:
            require(request.user, action, incident=incident)
            service(incident=incident, actor=request.user, **kwargs)
            done += 1
        except ApplicationError as exc:
            modeladmin.message_user(request, f"{incident.reference}: {exc.message}", messages.ERROR)
    if done:
        modeladmin.message_user(request, success % {"count": done}, messages.SUCCESS)


@admin.action(description=_("Verify selected incidents"))
def verify_incidents(modeladmin, request, queryset):
    _run_action(
        modeladmin,
        request,
        queryset,
        services.incident_verify,
        access.INCIDENT_VERIFY,
        gettext("%(count)d incident(s) verified."),
    )


@admin.action(description=_("Resolve selected incidents"))
def resolve_incidents(modeladmin, request, queryset):
    _run_action(
        modeladmin,
        request,
        queryset,
        services.incident_resolve,
        access.INCIDENT_RESOLVE,
        gettext("%(count)d incident(s) resolved."),
    )


@admin.action(description=_("Close selected incidents"))
def close_incidents(modeladmin, request, queryset):
    _run_action(
        modeladmin,
        request,
        queryset,
        services.incident_close,
        access.INCIDENT_CLOSE,
        gettext("%(count)d incident(s) closed."),
    )


@admin.action(description=_("Mark selected incidents as false alarm"))
def false_alarm_incidents(modeladmin, request, queryset):
    _run_action(
        modeladmin,
        request,
        queryset,
        services.incident_mark_false_alarm,
        access.INCIDENT_FALSE_ALARM,
        gettext("%(count)d incident(s) marked as false alarm."),
        reason=gettext("Marked as false alarm in the admin."),
    )


class IncidentAdminForm(forms.ModelForm):
    """Runs the services' validation up front, so a bad combination is a form error, not a
    message after a silent no-op."""

    class Meta:
        model = Incident
        fields = [
            "region",
            "category",
            "priority",
            "channel",
            "description",
            "address",
            "district",
            "village",
            "latitude",
            "longitude",
            "caller_name",
            "caller_number",
            "received_at",
        ]

    def clean(self):
        data = super().clean()
        region = data.get("region") or getattr(self.instance, "region", None)
        try:
            if data.get("category") is not None and "category" in self.changed_data:
                services.check_category(data["category"])
            if region is not None:
                services.validate_place(
                    region=region,
                    district=data.get("district"),
                    village=data.get("village"),
                    latitude=data.get("latitude"),
                    longitude=data.get("longitude"),
                )
        except ApplicationError as exc:
            field = exc.extra.get("field")
            if field in self.fields:
                self.add_error(field, exc.message)
            else:
                raise forms.ValidationError(exc.message, code=exc.code) from exc
        return data


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    form = IncidentAdminForm
    list_display = ["reference", "status", "priority", "category", "district", "received_at", "first_on_scene_at"]
    list_filter = ["status", "priority", "category", "region", "district", "channel"]
    search_fields = ["=reference", "caller_number", "address"]
    list_select_related = ["category", "district"]
    date_hierarchy = "received_at"
    autocomplete_fields = ["category", "district", "village"]
    readonly_fields = [
        "reference",
        "status",
        "duplicate_of",
        "created_by",
        "verified_at",
        "first_dispatched_at",
        "first_acknowledged_at",
        "first_on_scene_at",
        "resolved_at",
        "closed_at",
        "version",
    ]
    fieldsets = [
        (None, {"fields": ["reference", "status", "region", "category", "priority", "channel", "description"]}),
        (_("Place"), {"fields": ["address", "district", "village", "latitude", "longitude"]}),
        (_("Caller"), {"fields": ["caller_name", "caller_number"]}),
        (
            _("Milestones"),
            {
                "fields": [
                    "received_at",
                    "verified_at",
                    "first_dispatched_at",
                    "first_acknowledged_at",
                    "first_on_scene_at",
                    "resolved_at",
                    "closed_at",
                    "duplicate_of",
                    "created_by",
                    "version",
                ]
            },
        ),
    ]
    inlines = [TimelineInline]
    actions = [verify_incidents, resolve_incidents, close_incidents, false_alarm_incidents]

    def has_delete_permission(self, request, obj=None):
        return False  # the record of an emergency is never deleted

    # Django's model permissions open the admin screens; the one action check decides on top of
    # them, as everywhere else (an agency's staff with change rights still cannot edit here).
    def has_add_permission(self, request):
        return super().has_add_permission(request) and access.INCIDENT_CREATE in allowed_actions(request.user)

    def has_change_permission(self, request, obj=None):
        if not super().has_change_permission(request, obj):
            return False
        return obj is None or access.INCIDENT_UPDATE in allowed_actions(request.user, obj)

    def get_queryset(self, request):
        # The same visibility rule as the API and the console: staff who are not superusers
        # see only what incident_list_for_user gives them.
        if request.user.is_superuser:
            return super().get_queryset(request)
        return incident_list_for_user(request.user)

    def get_object(self, request, object_id, from_field=None):
        incident = super().get_object(request, object_id, from_field)
        if incident is not None and not request.user.is_superuser and not personal_data_visible(request.user, incident):
            _mask_caller(incident)
        return incident

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and not request.user.is_superuser and not personal_data_visible(request.user, obj):
            fieldsets = [(name, opts) for name, opts in fieldsets if "caller_name" not in opts["fields"]]
        return fieldsets

    def get_search_fields(self, request):
        if _personal_data_allowed(request):
            return self.search_fields
        return [name for name in self.search_fields if name != "caller_number"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += ["region", "channel", "received_at"]
        return fields

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if not change:
                require(request.user, access.INCIDENT_CREATE)
                created = services.incident_create(
                    actor=request.user,
                    region=data["region"],
                    category=data["category"],
                    priority=data.get("priority"),
                    channel=data.get("channel"),
                    description=data["description"],
                    address=data.get("address", ""),
                    district=data.get("district"),
                    village=data.get("village"),
                    latitude=data.get("latitude"),
                    longitude=data.get("longitude"),
                    caller_name=data.get("caller_name", ""),
                    caller_number=data.get("caller_number", ""),
                    received_at=data.get("received_at"),
                )
                obj.pk, obj.reference = created.pk, created.reference
                return
            editable = {f: data[f] for f in form.changed_data if f in services.EDITABLE_FIELDS}
            current = Incident.objects.get(pk=obj.pk)  # visible: get_object went through the selector
            require(request.user, access.INCIDENT_UPDATE, incident=current)
            if "category" in form.changed_data:
                services.incident_change_category(incident=current, category=data["category"], actor=request.user)
            if editable:
                services.incident_update(incident=current, actor=request.user, data=editable)
        except ApplicationError as exc:
            # The form was valid but a business rule said no: nothing was written.
            self.message_user(request, exc.message, messages.ERROR)

    def save_related(self, request, form, formsets, change):
        # The only inline is the read-only timeline: nothing to save, but the admin's change
        # message reads these lists.
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def get_search_results(self, request, queryset, search_term):
        if not _personal_data_allowed(request):
            return super().get_search_results(request, queryset, search_term)
        return _search_with_normalized_number(super(), request, queryset, search_term)


@admin.register(TimelineEvent)
class TimelineEventAdmin(IncidentScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "incident", "kind", "from_state", "to_state", "actor", "actor_label"]
    list_filter = ["kind"]
    search_fields = ["=incident__reference"]
    list_select_related = ["incident", "actor"]
    date_hierarchy = "created_at"

    def get_exclude(self, request, obj=None):
        # The payload of an edit holds the old and new caller data.
        if obj is not None and not request.user.is_superuser and not personal_data_visible(request.user, obj.incident):
            return ["payload"]
        return super().get_exclude(request, obj)


# ------------------------------------------------------------------------------------------------
# SLA engine: policies are edited here; what the sweep recorded is read-only evidence
# ------------------------------------------------------------------------------------------------
@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "category",
        "priority",
        "agency",
        "dispatch_minutes",
        "acknowledge_minutes",
        "response_minutes",
        "resolve_minutes",
        "warning_percent",
        "is_active",
        "updated_at",
    ]
    list_filter = ["is_active", "priority", "category", "agency"]
    search_fields = ["category__code", "agency__code", "note"]
    list_select_related = ["category", "agency"]
    autocomplete_fields = ["category", "agency"]
    fieldsets = [
        (None, {"fields": ["category", "priority", "agency", "is_active"]}),
        (
            _("Targets (minutes; empty inherits)"),
            {
                "fields": ["dispatch_minutes", "acknowledge_minutes", "response_minutes", "resolve_minutes"],
                "description": _(
                    "Most specific wins, target by target: agency + priority, agency, priority, the category-wide "
                    "policy, then the category's own targets. Deadlines already running keep the values they "
                    "started with."
                ),
            },
        ),
        (None, {"fields": ["warning_percent", "note"]}),
    ]


@admin.register(SlaEvent)
class SlaEventAdmin(IncidentScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["recorded_at", "incident", "target", "level", "due_at", "assignment"]
    list_filter = ["level", "target"]
    search_fields = ["=incident__reference"]
    list_select_related = ["incident", "assignment__agency"]
    date_hierarchy = "recorded_at"


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "recipient", "kind", "incident", "message", "emailed_at", "read_at"]
    list_filter = ["kind"]
    search_fields = ["=incident__reference", "recipient__username"]
    list_select_related = ["recipient", "incident"]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser or access_for(request.user).reads_everything:
            return queryset
        return queryset.filter(recipient=request.user)  # one's own notifications only


class WebhookSubscriptionForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        label=_("event types"), choices=WebhookEventType.choices, widget=forms.CheckboxSelectMultiple, required=False
    )

    class Meta:
        model = WebhookSubscription
        fields = ["name", "url", "region", "agency", "event_types", "secret", "is_active"]


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    form = WebhookSubscriptionForm
    list_display = ["name", "url", "region", "agency", "is_active", "created_at"]
    list_filter = ["is_active", "region", "agency"]
    search_fields = ["name", "url"]
    list_select_related = ["region", "agency"]
    autocomplete_fields = ["agency"]


class WebhookAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = WebhookAttempt
    fields = ["number", "started_at", "status_code", "latency_ms", "error"]
    readonly_fields = fields
    extra = 0


@admin.action(description=_("Retry selected failed deliveries"))
def retry_deliveries(modeladmin, request, queryset):
    count = webhooks.deliveries_retry(ids=list(queryset.values_list("pk", flat=True)))
    modeladmin.message_user(
        request, gettext("%(count)d delivery(ies) will be retried.") % {"count": count}, messages.SUCCESS
    )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(IncidentScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "subscription",
        "event_type",
        "incident",
        "status",
        "attempt_count",
        "status_code",
        "latency_ms",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["status", "event_type", "subscription"]
    search_fields = ["=incident__reference", "=event_id"]
    list_select_related = ["subscription", "incident"]
    date_hierarchy = "created_at"
    inlines = [WebhookAttemptInline]
    actions = [retry_deliveries]

    def has_change_permission(self, request, obj=None):
        # Viewable (and the retry action usable) by whoever may change deliveries; never edited.
        return obj is None and request.user.has_perm("incidents.change_webhookdelivery")


@admin.register(SweepHeartbeat)
class SweepHeartbeatAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["name", "finished_at", "duration_ms", "incidents_checked", "events_recorded"]
