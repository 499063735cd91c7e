"""Incidents: places, categories, calls, cases and their append-only timeline.

Models hold fields, constraints and indexes only. Every state change goes through
``incidents.services`` (or ``dispatch.services`` for assignments); nothing here has side effects.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Region(models.Model):
    """A 112 service area (city, regency or province); districts belong to exactly one."""

    code = models.CharField(_("code"), max_length=16, unique=True, help_text=_("BPS region code, e.g. 3374."))
    name = models.CharField(_("name"), max_length=120)
    reference_prefix = models.CharField(
        _("reference prefix"),
        max_length=5,
        unique=True,
        help_text=_("Letters that start every incident reference number of this region, e.g. SMG."),
    )

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class District(models.Model):
    """Kecamatan."""

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="districts", verbose_name=_("region"))
    code = models.CharField(_("code"), max_length=16)
    name = models.CharField(_("name"), max_length=120)

    class Meta:
        verbose_name = _("district (kecamatan)")
        verbose_name_plural = _("districts (kecamatan)")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["region", "code"], name="district_unique_code_per_region"),
            models.UniqueConstraint(fields=["region", "name"], name="district_unique_name_per_region"),
        ]

    def __str__(self) -> str:
        return self.name


class Village(models.Model):
    """Kelurahan."""

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="villages", verbose_name=_("district"))
    code = models.CharField(_("code"), max_length=16, blank=True)
    name = models.CharField(_("name"), max_length=120)

    class Meta:
        verbose_name = _("village (kelurahan)")
        verbose_name_plural = _("villages (kelurahan)")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["district", "name"], name="village_unique_name_per_district")]

    def __str__(self) -> str:
        return self.name


class Priority(models.IntegerChoices):
    P1 = 1, _("P1 — life-threatening")
    P2 = 2, _("P2 — urgent")
    P3 = 3, _("P3 — standard")
    P4 = 4, _("P4 — low")


class Category(models.Model):
    """What happened. Categories form a tree; routing and SLA targets hang off them."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name_id = models.CharField(_("name (Indonesian)"), max_length=120)
    name_en = models.CharField(_("name (English)"), max_length=120)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children", verbose_name=_("parent")
    )
    default_priority = models.PositiveSmallIntegerField(
        _("default priority"), choices=Priority.choices, default=Priority.P2
    )
    sla_dispatch_minutes = models.PositiveIntegerField(
        _("dispatch target (minutes)"), default=2, help_text=_("From received to first dispatch.")
    )
    sla_acknowledge_minutes = models.PositiveIntegerField(
        _("acknowledge target (minutes)"), default=3, help_text=_("From dispatch to the agency's acknowledgement.")
    )
    sla_response_minutes = models.PositiveIntegerField(
        _("on-scene target (minutes)"), default=10, help_text=_("From received to the first unit on scene.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("sort order"), default=100)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["sort_order", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(sla_dispatch_minutes__gt=0), name="category_sla_dispatch_positive"),
            models.CheckConstraint(condition=Q(sla_acknowledge_minutes__gt=0), name="category_sla_ack_positive"),
            models.CheckConstraint(condition=Q(sla_response_minutes__gt=0), name="category_sla_response_positive"),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        from django.utils.translation import get_language

        return self.name_en if (get_language() or "id").startswith("en") else self.name_id

    def ancestors_and_self(self) -> list[Category]:
        """This category and its parents, nearest first (the tree is a few levels deep)."""
        chain, node, seen = [], self, set()
        while node is not None and node.pk not in seen:
            chain.append(node)
            seen.add(node.pk)
            node = node.parent
        return chain


class Channel(models.TextChoices):
    PHONE_112 = "phone_112", _("Phone 112")
    WALK_IN = "walk_in", _("Walk-in")
    API = "api", _("Integration API")
    APP = "app", _("Citizen app")
    SOCIAL_MEDIA = "social_media", _("Social media")
    RADIO = "radio", _("Radio")


class CallerNumber(models.Model):
    """What the center knows about one caller number: prank flag and a temporary block."""

    number = models.CharField(_("number"), max_length=32, unique=True)
    prank_count = models.PositiveIntegerField(_("prank and silent calls"), default=0)
    is_flagged = models.BooleanField(_("flagged as prank caller"), default=False)
    blocked_until = models.DateTimeField(_("blocked until"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("caller number")
        verbose_name_plural = _("caller numbers")

    def __str__(self) -> str:
        return self.number

    @property
    def is_blocked(self) -> bool:
        return self.blocked_until is not None and self.blocked_until > timezone.now()


class Call(models.Model):
    """Every inbound contact, whether or not it becomes a case."""

    class Outcome(models.TextChoices):
        PENDING = "pending", _("In progress")  # still being handled by the operator
        EMERGENCY = "emergency", _("Emergency (incident)")  # created or joined an incident
        INFORMATION = "information", _("Information request")
        PRANK = "prank", _("Prank")
        SILENT = "silent", _("Silent / ghost call")
        WRONG_NUMBER = "wrong_number", _("Wrong number")
        DUPLICATE = "duplicate", _("Duplicate of an existing incident")  # linked to that incident
        TRANSFERRED = "transferred", _("Transferred")

    NON_CASE_OUTCOMES = (Outcome.INFORMATION, Outcome.PRANK, Outcome.SILENT, Outcome.WRONG_NUMBER, Outcome.TRANSFERRED)
    PRANK_OUTCOMES = (Outcome.PRANK, Outcome.SILENT)

    # Indexed by call_region_started_idx and call_number_started_idx (Meta), which lead with them.
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="calls", verbose_name=_("region"), db_index=False
    )
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, default=Channel.PHONE_112)
    caller_number = models.CharField(_("caller number"), max_length=32, blank=True)
    caller_name = models.CharField(_("caller name"), max_length=120, blank=True)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="calls_taken",
        verbose_name=_("operator"),
    )
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, default=Outcome.PENDING)
    incident = models.ForeignKey(
        "incidents.Incident",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="calls",
        verbose_name=_("incident"),
    )
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["region", "started_at"], name="call_region_started_idx"),
            models.Index(fields=["caller_number", "started_at"], name="call_number_started_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(answered_at__isnull=True) | Q(answered_at__gte=models.F("started_at")),
                name="call_answered_after_start",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="call_ended_after_start",
            ),
            # An emergency or duplicate call points at its incident; a non-case call never does.
            models.CheckConstraint(
                condition=~Q(outcome__in=["emergency", "duplicate"]) | Q(incident__isnull=False),
                name="call_case_outcome_has_incident",
            ),
            models.CheckConstraint(
                condition=~Q(outcome__in=["information", "prank", "silent", "wrong_number", "transferred"])
                | Q(incident__isnull=True),
                name="call_non_case_outcome_has_no_incident",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.caller_number or '-'} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def answer_seconds(self) -> float | None:
        if self.answered_at is None:
            return None
        return (self.answered_at - self.started_at).total_seconds()


class Incident(models.Model):
    """A case: something that needs a response on the ground."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")  # recorded by the command center, not yet checked
        VERIFIED = "verified", _("Verified")  # confirmed real; waiting for (re-)dispatch
        DISPATCHED = "dispatched", _("Dispatched")  # at least one agency has been asked to respond
        ON_SCENE = "on_scene", _("On scene")  # a responder has arrived
        RESOLVED = "resolved", _("Resolved")  # the situation is handled on the ground
        CLOSED = "closed", _("Closed")  # paperwork done; final
        CANCELLED = "cancelled", _("Cancelled")  # withdrawn (caller cancelled, handled elsewhere)
        FALSE_ALARM = "false_alarm", _("False alarm / prank")  # nothing happened
        MERGED = "merged", _("Merged as duplicate")  # same event as ``duplicate_of``

    OPEN_STATUSES = (Status.RECEIVED, Status.VERIFIED, Status.DISPATCHED, Status.ON_SCENE)
    FINAL_STATUSES = (Status.CLOSED, Status.CANCELLED, Status.FALSE_ALARM, Status.MERGED)

    reference = models.CharField(_("reference number"), max_length=32, unique=True, editable=False)
    # Region, category and district need no index of their own: each leads a composite index
    # below, which serves the same lookups (and the PROTECT checks). Every index costs every
    # report an index insertion.
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="incidents", verbose_name=_("region"), db_index=False
    )
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="incidents", verbose_name=_("category"), db_index=False
    )
    priority = models.PositiveSmallIntegerField(_("priority"), choices=Priority.choices, default=Priority.P2)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.RECEIVED, editable=False)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, default=Channel.PHONE_112)
    description = models.TextField(_("description"), max_length=5000)
    address = models.CharField(_("address"), max_length=500, blank=True)
    district = models.ForeignKey(
        District,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="incidents",
        verbose_name=_("district"),
        db_index=False,
    )
    village = models.ForeignKey(
        Village, on_delete=models.PROTECT, null=True, blank=True, related_name="incidents", verbose_name=_("village")
    )
    latitude = models.DecimalField(
        _("latitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("-90")), MaxValueValidator(Decimal("90"))],
    )
    longitude = models.DecimalField(
        _("longitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("-180")), MaxValueValidator(Decimal("180"))],
    )
    # Personal data: masked for roles without the right (permissions issue).
    caller_name = models.CharField(_("caller name"), max_length=120, blank=True)
    caller_number = models.CharField(_("caller number"), max_length=32, blank=True)  # indexed in Meta
    duplicate_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="duplicates",
        verbose_name=_("duplicate of"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="incidents_created",
        verbose_name=_("created by"),
    )
    # Milestones. Response time = first_on_scene_at - received_at (the 10-minute target).
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True, editable=False)
    first_dispatched_at = models.DateTimeField(_("first dispatched at"), null=True, blank=True, editable=False)
    first_acknowledged_at = models.DateTimeField(_("first acknowledged at"), null=True, blank=True, editable=False)
    first_on_scene_at = models.DateTimeField(_("first on scene at"), null=True, blank=True, editable=False)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True, editable=False)
    # SLA deadlines, computed from the category's targets when each clock starts and never
    # rewritten by a later policy edit (re-categorising recomputes, with a timeline event).
    dispatch_due_at = models.DateTimeField(_("dispatch due at"), null=True, blank=True, editable=False)
    response_due_at = models.DateTimeField(_("on scene due at"), null=True, blank=True, editable=False)
    resolve_due_at = models.DateTimeField(_("resolve due at"), null=True, blank=True, editable=False)
    # Warning thresholds (by default 80% of each target), fixed together with the deadlines.
    dispatch_warn_at = models.DateTimeField(_("dispatch warning at"), null=True, blank=True, editable=False)
    response_warn_at = models.DateTimeField(_("on scene warning at"), null=True, blank=True, editable=False)
    resolve_warn_at = models.DateTimeField(_("resolve warning at"), null=True, blank=True, editable=False)
    # When the SLA sweep must next look at this incident: the earliest warning threshold or deadline
    # it has not judged yet, of the incident or of its unacknowledged assignments. NULL once every
    # clock has stopped, so the sweep's index holds open deadlines only (incidents.sla).
    sla_next_check_at = models.DateTimeField(_("next SLA check at"), null=True, blank=True, editable=False)
    # Optimistic concurrency: bumped by every service write; the API's ETag.
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        ordering = ["-received_at"]
        # Object-level grant for agencies an incident is shared with at "assist" level.
        permissions = [("assist_incident", _("Can assist on incident (notes, own assignment)"))]
        indexes = [
            # The live queue: open incidents of a region by priority, oldest first — the whole sort
            # key, so that a page is one index range read from its cursor (keyset pagination's row
            # comparison), with no sort of the region's open incidents.
            models.Index(
                fields=["region", "priority", "received_at", "id"],
                name="incident_open_queue_key_idx",
                condition=Q(status__in=["received", "verified", "dispatched", "on_scene"]),
            ),
            # The API's ?ordering=priority over the same incidents: by priority, newest first.
            models.Index(
                fields=["region", "priority", "-received_at", "-id"],
                name="incident_open_queue_newest_idx",
                condition=Q(status__in=["received", "verified", "dispatched", "on_scene"]),
            ),
            # Open incidents newest first (an agency's "open only" list, any region): however old
            # the history, a page reads open incidents only.
            models.Index(
                fields=["received_at", "id"],
                name="incident_open_received_idx",
                condition=Q(status__in=["received", "verified", "dispatched", "on_scene"]),
            ),
            models.Index(fields=["region", "status", "priority", "received_at"], name="incident_region_status_idx"),
            models.Index(fields=["region", "received_at"], name="incident_region_received_idx"),
            models.Index(fields=["category", "received_at"], name="incident_category_received_idx"),
            models.Index(fields=["district", "received_at"], name="incident_district_received_idx"),
            # Exact lookups only: db_index=True would add a second, varchar_pattern_ops index for
            # LIKE 'prefix%', which nothing runs.
            models.Index(fields=["caller_number"], name="incident_caller_number_idx"),
            # Deadlines still running: only open incidents whose milestone is not reached yet.
            models.Index(
                fields=["dispatch_due_at"],
                name="incident_dispatch_due_idx",
                condition=Q(first_dispatched_at__isnull=True, status__in=["received", "verified"]),
            ),
            models.Index(
                fields=["response_due_at"],
                name="incident_response_due_idx",
                condition=Q(first_on_scene_at__isnull=True, status__in=["received", "verified", "dispatched"]),
            ),
            models.Index(
                fields=["resolve_due_at"],
                name="incident_resolve_due_idx",
                condition=Q(resolved_at__isnull=True, status__in=["received", "verified", "dispatched", "on_scene"]),
            ),
            # The SLA sweep's only entry point: incidents with a warning or deadline still to look at.
            models.Index(
                fields=["sla_next_check_at"],
                name="incident_sla_next_check_idx",
                condition=Q(sla_next_check_at__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
                name="incident_latitude_range",
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
                name="incident_longitude_range",
            ),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True, longitude__isnull=True)
                | Q(latitude__isnull=False, longitude__isnull=False),
                name="incident_coordinates_both_or_neither",
            ),
            models.CheckConstraint(condition=Q(priority__gte=1, priority__lte=4), name="incident_priority_range"),
            models.CheckConstraint(
                condition=~Q(status="merged") | Q(duplicate_of__isnull=False), name="incident_merged_has_target"
            ),
            models.CheckConstraint(condition=~Q(duplicate_of=models.F("pk")), name="incident_not_duplicate_of_self"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def response_time(self) -> timedelta | None:
        """Received → first on scene; the mayor's 10-minute target."""
        if self.first_on_scene_at is None:
            return None
        return self.first_on_scene_at - self.received_at


class ReferenceCounter(models.Model):
    """Per region prefix and local day, where incident reference numbers count from
    (``incidents.references``): the last number the table counter issued (SQLite, or PostgreSQL
    before the prefix's sequence took over), and on PostgreSQL the sequence's value before the day's
    first number."""

    prefix = models.CharField(max_length=5)
    day = models.DateField()
    last_value = models.PositiveIntegerField(default=0)
    sequence_base = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("reference counter")
        verbose_name_plural = _("reference counters")
        constraints = [models.UniqueConstraint(fields=["prefix", "day"], name="reference_counter_unique_day")]

    def __str__(self) -> str:
        return f"{self.prefix}-{self.day:%y%m%d}: {self.last_value}"


class TimelineEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Timeline events are append-only.")

    def delete(self):
        raise TypeError("Timeline events are append-only.")


class TimelineEvent(models.Model):
    """Append-only record of every change to an incident or its assignments."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        STATUS_CHANGED = "status_changed", _("Status changed")
        UPDATED = "updated", _("Details updated")
        CATEGORY_CHANGED = "category_changed", _("Category changed")
        ROUTED = "routed", _("Routing suggested")
        CALL_LINKED = "call_linked", _("Call linked")
        MERGED_INTO = "merged_into", _("Merged into another incident")
        DUPLICATE_MERGED = "duplicate_merged", _("Duplicate merged in")
        ASSIGNMENT_CREATED = "assignment_created", _("Agency dispatched")
        ASSIGNMENT_STATUS = "assignment_status", _("Assignment status changed")
        RETURNED_TO_DISPATCH = "returned_to_dispatch", _("Returned to dispatcher")
        NOTE = "note", _("Note")
        SHARED = "shared", _("Shared with an agency")
        SHARE_REVOKED = "share_revoked", _("Share revoked")
        SLA_WARNING = "sla_warning", _("SLA warning")
        SLA_BREACH = "sla_breach", _("SLA breach")

    # Indexed by timeline_incident_time_idx (incident, created_at), which leads with it.
    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="timeline", verbose_name=_("incident"), db_index=False
    )
    assignment = models.ForeignKey(
        "dispatch.Assignment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="timeline",
        verbose_name=_("assignment"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    # Who acted when there is no user: "system", "celery", an API client's name.
    actor_label = models.CharField(_("actor label"), max_length=120, blank=True)
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    from_state = models.CharField(_("from"), max_length=32, blank=True)
    to_state = models.CharField(_("to"), max_length=32, blank=True)
    note = models.TextField(_("note"), blank=True)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=False)

    objects = TimelineEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("timeline event")
        verbose_name_plural = _("timeline events")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["incident", "created_at"], name="timeline_incident_time_idx")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.kind}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise TypeError("Timeline events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Timeline events are append-only.")


# ------------------------------------------------------------------------------------------------
# SLA engine: policies, recorded warnings and breaches, notifications, outbound webhooks.
# The logic lives in incidents/sla.py, incidents/notifications.py and incidents/webhooks.py.
# ------------------------------------------------------------------------------------------------
class SlaTarget(models.TextChoices):
    DISPATCH = "dispatch", _("Dispatch")  # received → first agency dispatched
    ACKNOWLEDGE = "acknowledge", _("Acknowledge")  # one assignment: dispatched → the agency acknowledges
    RESPONSE = "response", _("On scene")  # received → first unit on scene (the mayor's 10 minutes)
    RESOLVE = "resolve", _("Resolve")  # received → resolved


class SlaLevel(models.TextChoices):
    WARNING = "warning", _("Warning")  # the warning threshold (a share of the target) has passed
    BREACH = "breach", _("Breach")  # the target itself has passed


class SlaPolicy(models.Model):
    """Targets for a category, optionally only for one priority and/or one agency.

    The most specific active policy wins, target by target: agency + priority, then agency, then
    priority, then the category-wide policy, then the category's own ``sla_*`` columns. An empty
    target inherits from the next level. Agency policies only apply to the acknowledge clock
    (the incident's own clocks start before any agency is known). Deadlines are computed from the
    policy when each clock starts and stored; editing a policy never rewrites them.
    """

    category = models.ForeignKey(
        Category, on_delete=models.CASCADE, related_name="sla_policies", verbose_name=_("category")
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, null=True, blank=True, help_text=_("Empty: every priority.")
    )
    agency = models.ForeignKey(
        "dispatch.Agency",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sla_policies",
        verbose_name=_("agency"),
        help_text=_("Empty: every agency. An agency policy sets that agency's acknowledge target."),
    )
    dispatch_minutes = models.PositiveIntegerField(
        _("dispatch target (minutes)"), null=True, blank=True, help_text=_("Received → first dispatch. Empty: inherit.")
    )
    acknowledge_minutes = models.PositiveIntegerField(
        _("acknowledge target (minutes)"),
        null=True,
        blank=True,
        help_text=_("Dispatch → the agency's acknowledgement. Empty: inherit."),
    )
    response_minutes = models.PositiveIntegerField(
        _("on-scene target (minutes)"), null=True, blank=True, help_text=_("Received → first unit on scene. Empty: inherit.")
    )
    resolve_minutes = models.PositiveIntegerField(
        _("resolve target (minutes)"), null=True, blank=True, help_text=_("Received → resolved. Empty: inherit.")
    )
    warning_percent = models.PositiveSmallIntegerField(
        _("warning at (% of target)"),
        default=80,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("A warning is raised when this share of a target has passed."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    note = models.TextField(_("note"), blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ["category", "agency", "priority"]
        constraints = [
            # One policy per (category, priority, agency), NULLs included (portable partial indexes).
            models.UniqueConstraint(
                fields=["category"],
                name="sla_policy_unique_category",
                condition=Q(priority__isnull=True, agency__isnull=True),
            ),
            models.UniqueConstraint(
                fields=["category", "priority"],
                name="sla_policy_unique_priority",
                condition=Q(priority__isnull=False, agency__isnull=True),
            ),
            models.UniqueConstraint(
                fields=["category", "agency"],
                name="sla_policy_unique_agency",
                condition=Q(priority__isnull=True, agency__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["category", "priority", "agency"],
                name="sla_policy_unique_agency_priority",
                condition=Q(priority__isnull=False, agency__isnull=False),
            ),
            models.CheckConstraint(
                condition=Q(warning_percent__gte=1, warning_percent__lte=100), name="sla_policy_warning_percent_range"
            ),
            models.CheckConstraint(
                condition=(Q(dispatch_minutes__isnull=True) | Q(dispatch_minutes__gt=0))
                & (Q(acknowledge_minutes__isnull=True) | Q(acknowledge_minutes__gt=0))
                & (Q(response_minutes__isnull=True) | Q(response_minutes__gt=0))
                & (Q(resolve_minutes__isnull=True) | Q(resolve_minutes__gt=0)),
                name="sla_policy_minutes_positive",
            ),
        ]

    def __str__(self) -> str:
        parts = [self.category.code]
        if self.priority:
            parts.append(f"P{self.priority}")
        if self.agency_id:
            parts.append(str(self.agency))
        return " / ".join(parts)


class SlaEvent(models.Model):
    """A warning or breach, recorded exactly once per incident (or assignment), target and level."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="sla_events", verbose_name=_("incident"))
    assignment = models.ForeignKey(
        "dispatch.Assignment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sla_events",
        verbose_name=_("assignment"),
        help_text=_("Set for the acknowledge target only."),
    )
    target = models.CharField(_("target"), max_length=16, choices=SlaTarget.choices)
    level = models.CharField(_("level"), max_length=16, choices=SlaLevel.choices)
    due_at = models.DateTimeField(_("threshold passed"), help_text=_("The warning threshold or deadline that passed."))
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("SLA event")
        verbose_name_plural = _("SLA events")
        ordering = ["recorded_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "target", "level"],
                name="sla_event_once_per_incident",
                condition=Q(assignment__isnull=True),
            ),
            models.UniqueConstraint(
                fields=["assignment", "target", "level"],
                name="sla_event_once_per_assignment",
                condition=Q(assignment__isnull=False),
            ),
            # The acknowledge clock belongs to an assignment; every other clock to the incident.
            models.CheckConstraint(
                condition=Q(target="acknowledge", assignment__isnull=False) | (~Q(target="acknowledge") & Q(assignment__isnull=True)),
                name="sla_event_assignment_iff_acknowledge",
            ),
        ]
        indexes = [models.Index(fields=["recorded_at"], name="sla_event_recorded_idx")]

    def __str__(self) -> str:
        return f"{self.incident_id} {self.target} {self.level}"


class Notification(models.Model):
    """An in-app message for one staff user (the console shows the unread ones), optionally emailed."""

    class Kind(models.TextChoices):
        SLA_WARNING = "sla_warning", _("SLA warning")
        SLA_BREACH = "sla_breach", _("SLA breach")

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications", verbose_name=_("recipient")
    )
    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="notifications", verbose_name=_("incident")
    )
    sla_event = models.ForeignKey(
        SlaEvent,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="notifications",
        verbose_name=_("SLA event"),
    )
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    message = models.TextField(_("message"))
    # The address at the time of the event; empty means no email.
    email_to = models.EmailField(_("email to"), blank=True)
    emailed_at = models.DateTimeField(_("emailed at"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        constraints = [
            # A task delivered twice never tells the same person twice about the same event.
            models.UniqueConstraint(
                fields=["sla_event", "recipient"],
                name="notification_once_per_sla_event",
                condition=Q(sla_event__isnull=False),
            ),
        ]
        indexes = [
            models.Index(
                fields=["recipient", "-created_at"], name="notification_unread_idx", condition=Q(read_at__isnull=True)
            ),
            models.Index(fields=["recipient", "-created_at"], name="notification_recipient_idx"),
            # Emails still to send (the outbox task picks up any whose message was lost).
            models.Index(
                fields=["created_at"],
                name="notification_email_pending_idx",
                condition=Q(emailed_at__isnull=True) & ~Q(email_to=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recipient_id}: {self.message[:60]}"


class WebhookEventType(models.TextChoices):
    INCIDENT_CREATED = "incident.created", _("Incident created")
    INCIDENT_DISPATCHED = "incident.dispatched", _("Incident dispatched")
    ASSIGNMENT_CHANGED = "assignment.changed", _("Assignment changed")
    SLA_WARNING = "sla.warning", _("SLA warning")
    SLA_BREACH = "sla.breach", _("SLA breach")
    INCIDENT_RESOLVED = "incident.resolved", _("Incident resolved")


def webhook_secret_default() -> str:
    return secrets.token_hex(32)


class WebhookSubscription(models.Model):
    """An integration's endpoint. It receives only events of incidents its agency may see.

    With an agency: incidents that have or had an assignment to that agency, or a live share with it
    (the same rule as ``incidents.selectors``). Without one: every incident of its region (or of
    every region when the region is empty too).
    """

    name = models.CharField(_("name"), max_length=120)
    url = models.URLField(_("URL"), max_length=500)
    region = models.ForeignKey(
        Region,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="webhook_subscriptions",
        verbose_name=_("region"),
        help_text=_("Empty: every region."),
    )
    agency = models.ForeignKey(
        "dispatch.Agency",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="webhook_subscriptions",
        verbose_name=_("agency"),
        help_text=_("Only incidents this agency may see. Empty: the whole region (command center integrations)."),
    )
    event_types = models.JSONField(_("event types"), default=list, blank=True)
    secret = models.CharField(
        _("signing secret"),
        max_length=128,
        default=webhook_secret_default,
        help_text=_("HMAC-SHA256 key; give it to the receiver to verify X-S112-Signature."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(models.Model):
    """One event for one subscription (an outbox row), written in the transaction of the event."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")  # waiting for its next attempt (next_attempt_at)
        DELIVERED = "delivered", _("Delivered")  # the receiver answered 2xx
        FAILED = "failed", _("Failed")  # attempts exhausted or subscription disabled; retry from the admin

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.PROTECT, related_name="deliveries", verbose_name=_("subscription")
    )
    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("incident")
    )
    event_id = models.UUIDField(_("event id"))
    event_type = models.CharField(_("event type"), max_length=32, choices=WebhookEventType.choices)
    payload = models.JSONField(_("payload"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempt_count = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # Failed once attempt_count reaches it; the admin's "retry" raises it for another round.
    attempt_limit = models.PositiveSmallIntegerField(_("attempt limit"), default=8)
    # The last attempt; every attempt is in WebhookAttempt.
    status_code = models.PositiveSmallIntegerField(_("last status code"), null=True, blank=True)
    latency_ms = models.PositiveIntegerField(_("last latency (ms)"), null=True, blank=True)
    error = models.TextField(_("last error"), blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "event_id"], name="webhook_delivery_once_per_event"),
        ]
        indexes = [
            models.Index(fields=["next_attempt_at"], name="webhook_delivery_due_idx", condition=Q(status="pending")),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.subscription_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP attempt of a delivery: what the receiver answered, how fast, or what went wrong."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempts", verbose_name=_("delivery")
    )
    number = models.PositiveSmallIntegerField(_("attempt"))
    started_at = models.DateTimeField(_("started at"))
    status_code = models.PositiveSmallIntegerField(_("status code"), null=True, blank=True)
    latency_ms = models.PositiveIntegerField(_("latency (ms)"))
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        ordering = ["delivery", "number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="webhook_attempt_unique_number")]

    def __str__(self) -> str:
        return f"#{self.number} {self.status_code or self.error[:40]}"


class SweepHeartbeat(models.Model):
    """When a periodic sweep last completed; /health/ reports its age."""

    name = models.CharField(_("name"), max_length=40, unique=True)
    started_at = models.DateTimeField(_("last started at"))
    finished_at = models.DateTimeField(_("last finished at"))
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))
    incidents_checked = models.PositiveIntegerField(_("incidents checked"), default=0)
    events_recorded = models.PositiveIntegerField(_("events recorded"), default=0)

    class Meta:
        verbose_name = _("sweep heartbeat")
        verbose_name_plural = _("sweep heartbeats")

    def __str__(self) -> str:
        return f"{self.name} @ {self.finished_at:%Y-%m-%d %H:%M:%S}"
