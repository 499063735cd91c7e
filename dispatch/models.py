"""Dispatch: agencies (OPD and partners), their people and units, routing, and assignments."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase


class Agency(models.Model):
    """An organisation that takes or answers 112 work: the command center, an OPD, police, volunteers."""

    class Kind(models.TextChoices):
        COMMAND_CENTER = "command_center", _("Command center")
        CITY_AGENCY = "city_agency", _("City agency (OPD)")
        POLICE = "police", _("Police")
        NATIONAL_AGENCY = "national_agency", _("National agency")
        UTILITY = "utility", _("Utility")
        VOLUNTEER_COMMUNITY = "volunteer_community", _("Volunteer community")
        HEALTH_FACILITY = "health_facility", _("Health facility")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    region = models.ForeignKey(
        "incidents.Region",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="agencies",
        verbose_name=_("region"),
        help_text=_("Empty for agencies that serve every region."),
    )
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    whatsapp = models.CharField(_("WhatsApp"), max_length=32, blank=True)
    email = models.EmailField(_("email"), blank=True)
    radio_channel = models.CharField(_("radio channel"), max_length=64, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    # Members are in this group; per-incident shares are granted to it (django-guardian).
    group = models.OneToOneField(
        Group, on_delete=models.PROTECT, null=True, blank=True, editable=False, related_name="agency"
    )

    class Meta:
        verbose_name = _("agency")
        verbose_name_plural = _("agencies")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    CALL_TAKER = "call_taker", _("Call-taker / operator")
    DISPATCHER = "dispatcher", _("Dispatcher")
    SUPERVISOR = "supervisor", _("Command center supervisor")
    AGENCY_STAFF = "agency_staff", _("Agency staff")
    AGENCY_SUPERVISOR = "agency_supervisor", _("Agency supervisor")
    FIELD_OFFICER = "field_officer", _("Field officer")
    VOLUNTEER_COORDINATOR = "volunteer_coordinator", _("Volunteer coordinator")
    AUDITOR = "auditor", _("Auditor (read-only)")
    ADMINISTRATOR = "administrator", _("Administrator")


COMMAND_CENTER_ROLES = (Role.CALL_TAKER, Role.DISPATCHER, Role.SUPERVISOR)


class Membership(models.Model):
    """A user's role in one agency. A user may belong to several agencies."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user")
    )
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("agency"))
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    unit = models.ForeignKey(
        "dispatch.FieldUnit",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
        verbose_name=_("unit"),
        help_text=_("For field officers: the unit they ride with."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [models.UniqueConstraint(fields=["user", "agency"], name="membership_unique_user_agency")]
        indexes = [models.Index(fields=["agency", "role"], name="membership_agency_role_idx")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.agency} ({self.get_role_display()})"


class RoutingRule(models.Model):
    """Category (and optionally district) → agency, in order. District-specific rules win."""

    category = models.ForeignKey(
        "incidents.Category", on_delete=models.CASCADE, related_name="routing_rules", verbose_name=_("category")
    )
    district = models.ForeignKey(
        "incidents.District",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="routing_rules",
        verbose_name=_("district"),
        help_text=_("Empty: applies in every district."),
    )
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="routing_rules", verbose_name=_("agency"))
    order = models.PositiveSmallIntegerField(_("order"), default=1)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        ordering = ["category", "district", "order"]
        constraints = [
            models.UniqueConstraint(
                fields=["category", "district", "agency"],
                name="routing_rule_unique_district",
                condition=Q(district__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["category", "agency"], name="routing_rule_unique_default", condition=Q(district__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        where = self.district or _("all districts")
        return f"{self.category} / {where} → {self.agency} (#{self.order})"


class FieldUnit(models.Model):
    """A team or vehicle of an agency (fire engine, ambulance, rescue team)."""

    class Status(models.TextChoices):
        AVAILABLE = "available", _("Available")
        ASSIGNED = "assigned", _("Assigned")
        OFF_DUTY = "off_duty", _("Off duty")

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="units", verbose_name=_("agency"))
    code = models.CharField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=60, blank=True, help_text=_("e.g. fire engine, ambulance, team."))
    home_district = models.ForeignKey(
        "incidents.District",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="units",
        verbose_name=_("home district"),
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.AVAILABLE)

    class Meta:
        verbose_name = _("field unit")
        verbose_name_plural = _("field units")
        ordering = ["agency", "code"]
        constraints = [models.UniqueConstraint(fields=["agency", "code"], name="field_unit_unique_code")]
        indexes = [models.Index(fields=["agency", "status", "home_district"], name="field_unit_availability_idx")]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class Volunteer(models.Model):
    """A person of a volunteer community (relawan)."""

    community = models.ForeignKey(
        Agency,
        on_delete=models.PROTECT,
        related_name="volunteers",
        verbose_name=_("community"),
        limit_choices_to={"kind": Agency.Kind.VOLUNTEER_COMMUNITY},
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="volunteer",
        verbose_name=_("user account"),
    )
    name = models.CharField(_("name"), max_length=120)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    skills = models.CharField(_("skills"), max_length=300, blank=True, help_text=_("Comma-separated."))
    districts = models.ManyToManyField(
        "incidents.District", blank=True, related_name="volunteers", verbose_name=_("districts")
    )
    is_available = models.BooleanField(_("available"), default=True)

    class Meta:
        verbose_name = _("volunteer")
        verbose_name_plural = _("volunteers")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Assignment(models.Model):
    """One agency's part in one incident, with its own steps."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")  # dispatched; waiting for the agency to acknowledge
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")  # the agency has taken it
        EN_ROUTE = "en_route", _("En route")  # a unit is on its way
        ON_SCENE = "on_scene", _("On scene")  # a unit has arrived
        COMPLETED = "completed", _("Completed")  # the agency's work is done
        DECLINED = "declined", _("Declined")  # the agency cannot take it (reason given)
        CANCELLED = "cancelled", _("Cancelled")  # withdrawn by the command center

    ACTIVE_STATUSES = (Status.REQUESTED, Status.ACKNOWLEDGED, Status.EN_ROUTE, Status.ON_SCENE)
    ENDED_STATUSES = (Status.COMPLETED, Status.DECLINED, Status.CANCELLED)

    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.PROTECT, related_name="assignments", verbose_name=_("incident")
    )
    # Indexed by assignment_agency_inbox_idx and assignment_agency_incident_idx (Meta), which lead with it.
    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="assignments", verbose_name=_("agency"), db_index=False
    )
    unit = models.ForeignKey(
        FieldUnit, on_delete=models.PROTECT, null=True, blank=True, related_name="assignments", verbose_name=_("unit")
    )
    volunteer = models.ForeignKey(
        Volunteer,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assignments",
        verbose_name=_("volunteer"),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.REQUESTED, editable=False
    )
    dispatched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("dispatched by"),
    )
    note = models.TextField(_("note"), blank=True)
    # Set when an agency joined through an "assist" share (self-dispatch) rather than being
    # dispatched by the command center; such an assignment does not let the agency re-share.
    via_share = models.ForeignKey(
        "dispatch.IncidentShare",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        db_index=False,  # read per incident only, beside assignment_agency_incident_idx; shares are never deleted
        related_name="assignments",
        verbose_name=_("joined through share"),
    )
    requested_at = models.DateTimeField(_("requested at"), editable=False)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True, editable=False)
    en_route_at = models.DateTimeField(_("en route at"), null=True, blank=True, editable=False)
    on_scene_at = models.DateTimeField(_("on scene at"), null=True, blank=True, editable=False)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True, editable=False)
    declined_at = models.DateTimeField(_("declined at"), null=True, blank=True, editable=False)
    decline_reason = models.TextField(_("decline reason"), blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True, editable=False)
    # SLA deadline for the agency's acknowledgement, fixed when the assignment is requested.
    acknowledge_due_at = models.DateTimeField(_("acknowledge due at"), null=True, blank=True, editable=False)
    # Its warning threshold, fixed with it (the policy's warning share then); the SLA sweep reads it
    # per incident, never by itself, so it needs no index.
    acknowledge_warn_at = models.DateTimeField(_("acknowledge warning at"), null=True, blank=True, editable=False)
    # Set once the agency has been told (email); makes the notification task idempotent.
    notified_at = models.DateTimeField(_("agency notified at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")
        ordering = ["requested_at", "id"]
        indexes = [
            models.Index(fields=["agency", "status", "requested_at"], name="assignment_agency_inbox_idx"),
            models.Index(fields=["agency", "incident"], name="assignment_agency_incident_idx"),
            models.Index(
                fields=["acknowledge_due_at"], name="assignment_ack_due_idx", condition=Q(status="requested")
            ),
        ]
        constraints = [
            # An agency has at most one live assignment per incident.
            models.UniqueConstraint(
                fields=["incident", "agency"],
                name="assignment_one_active_per_agency",
                condition=Q(status__in=["requested", "acknowledged", "en_route", "on_scene"]),
            ),
            models.CheckConstraint(
                condition=~Q(status="declined") | ~Q(decline_reason=""), name="assignment_decline_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.incident_id} → {self.agency_id} ({self.status})"


# ------------------------------------------------------------------------------------------------
# Shares: one incident made visible to another agency (per-object grants with django-guardian)
# ------------------------------------------------------------------------------------------------
class IncidentShareQuerySet(models.QuerySet):
    def active(self, at=None):
        at = at or timezone.now()
        return self.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=at), revoked_at__isnull=True)


class IncidentShare(models.Model):
    """A dispatcher's decision to let another agency see (or assist on) one incident.

    The grant itself is a django-guardian object permission on the incident for the agency's
    group (direct-FK tables below); this row is its record: who, when, level, expiry, revocation.
    """

    class Level(models.TextChoices):
        VIEW = "view", _("View")  # read the incident and its timeline (no personal data)
        ASSIST = "assist", _("Assist")  # also add notes and its own assignment

    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.PROTECT, related_name="shares", verbose_name=_("incident")
    )
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="shares", verbose_name=_("agency"))
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("granted by")
    )
    granted_at = models.DateTimeField(_("granted at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("revoked by")
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)

    objects = IncidentShareQuerySet.as_manager()

    class Meta:
        verbose_name = _("incident share")
        verbose_name_plural = _("incident shares")
        ordering = ["-granted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "agency"], name="share_one_live_per_agency", condition=Q(revoked_at__isnull=True)
            )
        ]
        indexes = [
            models.Index(
                fields=["agency", "incident"], name="share_live_agency_idx", condition=Q(revoked_at__isnull=True)
            ),
            models.Index(fields=["expires_at"], name="share_expiry_idx", condition=Q(revoked_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.incident_id} → {self.agency_id} ({self.level})"


class IncidentUserObjectPermission(UserObjectPermissionBase):
    """guardian: direct-FK per-user permissions on incidents (guardian performance docs)."""

    content_object = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        verbose_name = _("incident user permission")
        verbose_name_plural = _("incident user permissions")


class IncidentGroupObjectPermission(GroupObjectPermissionBase):
    """guardian: direct-FK per-group permissions on incidents; a share grants to the agency's group."""

    content_object = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        verbose_name = _("incident group permission")
        verbose_name_plural = _("incident group permissions")


class AccessEvent(models.Model):
    """Record of membership, role, share and grant changes: who, when, what (for administrators)."""

    class Kind(models.TextChoices):
        MEMBERSHIP_ADDED = "membership_added", _("Membership added")
        MEMBERSHIP_CHANGED = "membership_changed", _("Membership changed")
        MEMBERSHIP_REMOVED = "membership_removed", _("Membership removed")
        SHARE_GRANTED = "share_granted", _("Incident shared")
        SHARE_REVOKED = "share_revoked", _("Share revoked")
        SHARE_EXPIRED = "share_expired", _("Share expired")

    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("actor")
    )
    actor_label = models.CharField(_("actor label"), max_length=120, blank=True)
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("user")
    )
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("agency"))
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("incident")
    )
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    class Meta:
        verbose_name = _("access change")
        verbose_name_plural = _("access changes")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.kind}"
