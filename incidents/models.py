"""Incidents: places, categories, calls, cases and their append-only timeline.

Models hold fields, constraints and indexes only. Every state change goes through
``incidents.services`` (or ``dispatch.services`` for assignments); nothing here has side effects.
"""

from __future__ import annotations

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

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="calls", verbose_name=_("region"))
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, default=Channel.PHONE_112)
    caller_number = models.CharField(_("caller number"), max_length=32, blank=True, db_index=True)
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
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="incidents", verbose_name=_("region"))
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="incidents", verbose_name=_("category"))
    priority = models.PositiveSmallIntegerField(_("priority"), choices=Priority.choices, default=Priority.P2)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.RECEIVED, editable=False)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, default=Channel.PHONE_112)
    description = models.TextField(_("description"), max_length=5000)
    address = models.CharField(_("address"), max_length=500, blank=True)
    district = models.ForeignKey(
        District, on_delete=models.PROTECT, null=True, blank=True, related_name="incidents", verbose_name=_("district")
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
    caller_number = models.CharField(_("caller number"), max_length=32, blank=True, db_index=True)
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
            # The live queue: open incidents of a region by priority, oldest first.
            models.Index(
                fields=["region", "priority", "received_at"],
                name="incident_open_queue_idx",
                condition=Q(status__in=["received", "verified", "dispatched", "on_scene"]),
            ),
            models.Index(fields=["region", "status", "priority", "received_at"], name="incident_region_status_idx"),
            models.Index(fields=["region", "received_at"], name="incident_region_received_idx"),
            models.Index(fields=["category", "received_at"], name="incident_category_received_idx"),
            models.Index(fields=["district", "received_at"], name="incident_district_received_idx"),
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
    """Last sequence number issued per region prefix and local day (incident references)."""

    prefix = models.CharField(max_length=5)
    day = models.DateField()
    last_value = models.PositiveIntegerField(default=0)

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

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="timeline", verbose_name=_("incident"))
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
