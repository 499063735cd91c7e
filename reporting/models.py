"""Reporting: calendar markers for the charts and the record of background exports.

The figures themselves are read straight from incidents, calls and assignments
(``reporting.selectors``); nothing here duplicates them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class CalendarMarker(models.Model):
    """A period the charts mark: Ramadan, Idul Fitri (Lebaran), other peaks.

    Dates are local (Asia/Jakarta) and inclusive. Future Islamic dates are estimates until the
    government's sidang isbat fixes them; correct them here (admin) when it does.
    """

    class Kind(models.TextChoices):
        RAMADAN = "ramadan", _("Ramadan")
        LEBARAN = "lebaran", _("Idul Fitri (Lebaran)")
        HOLIDAY = "holiday", _("Holiday / peak period")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    name_id = models.CharField(_("name (Indonesian)"), max_length=120)
    name_en = models.CharField(_("name (English)"), max_length=120)
    starts_on = models.DateField(_("first day"))
    ends_on = models.DateField(_("last day"))
    is_estimate = models.BooleanField(_("estimated dates"), default=False)

    class Meta:
        verbose_name = _("calendar marker")
        verbose_name_plural = _("calendar markers")
        ordering = ["starts_on"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__gte=F("starts_on")), name="calendar_marker_ends_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.starts_on:%Y-%m-%d} – {self.ends_on:%Y-%m-%d})"

    @property
    def display_name(self) -> str:
        return self.name_en if (get_language() or "id").startswith("en") else self.name_id


class ReportExport(models.Model):
    """An export too large to build inside a request: built by a Celery task, downloaded once ready.

    The task re-reads the requester's permissions when it runs, so the file never holds more
    than the requester may see at that moment.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")  # queued, the task has not started
        RUNNING = "running", _("Being built")  # the task is writing the file
        READY = "ready", _("Ready")  # the file can be downloaded until expires_at
        FAILED = "failed", _("Failed")  # see error
        EXPIRED = "expired", _("Expired")  # the file was removed after REPORT_EXPORT_TTL_HOURS

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="report_exports",
        verbose_name=_("requested by"),
        db_index=False,  # leads report_export_user_idx
    )
    dataset = models.CharField(_("dataset"), max_length=40)
    format = models.CharField(_("format"), max_length=8, choices=Format.choices)
    params = models.JSONField(_("filters"), default=dict, blank=True)
    language = models.CharField(_("language"), max_length=8, default="id")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    file_name = models.CharField(_("file name"), max_length=200, blank=True)
    row_count = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)

    class Meta:
        verbose_name = _("report export")
        verbose_name_plural = _("report exports")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["requested_by", "-created_at"], name="report_export_user_idx")]

    def __str__(self) -> str:
        return f"{self.dataset}.{self.format} ({self.get_status_display()})"


# ------------------------------------------------------------------------------------------------
# Reporting tables: narrow, derived copies the figures read instead of the wide operational tables.
#
# One row per incident, assignment and call, holding exactly the values the figures aggregate
# (local day/hour/weekday, intervals in seconds, "met its stored deadline" flags), computed by
# ``reporting.rollups`` with the same database expressions the raw figures use. The raw path
# (``REPORT_USE_ROLLUPS=False``) stays available and the tests prove both give the same figures.
# Kept current by a periodic Celery task that refreshes what changed (every state change writes a
# timeline event, which is how changes are found). No foreign-key constraints: these are derived
# data, rebuilt from the source at any time (``manage.py report_rollups_rebuild``).
# ------------------------------------------------------------------------------------------------
_DERIVED = {"on_delete": models.DO_NOTHING, "db_constraint": False, "related_name": "+"}
SLA_LEVEL_PLURALS = {"warning": "warnings", "breach": "breaches"}


def sla_count_field(target: str, level: str) -> str:
    """The fact column counting SLA events of a target and level: ``sla_response_breaches``."""
    return f"sla_{target}_{SLA_LEVEL_PLURALS[level]}"


def _sla_count() -> models.PositiveSmallIntegerField:
    return models.PositiveSmallIntegerField(default=0)


class IncidentFact(models.Model):
    """One incident as the reports see it. Its primary key is the incident's id."""

    incident = models.OneToOneField("incidents.Incident", primary_key=True, **_DERIVED)
    region = models.ForeignKey("incidents.Region", db_index=False, **_DERIVED)  # leads the region/day index
    district = models.ForeignKey("incidents.District", null=True, **_DERIVED)
    category = models.ForeignKey("incidents.Category", **_DERIVED)
    channel = models.CharField(max_length=20)
    priority = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=20)
    day = models.DateField(help_text="Local date received.")
    hour = models.PositiveSmallIntegerField(help_text="Local hour received, 0–23.")
    response_s = models.FloatField(null=True)
    dispatch_s = models.FloatField(null=True)
    acknowledge_s = models.FloatField(null=True)
    response_in_category = models.BooleanField(null=True)
    dispatch_in_category = models.BooleanField(null=True)
    # Its recorded SLA events (``incidents.SlaEvent``) by target and level; acknowledge: all its assignments'.
    sla_dispatch_warnings = _sla_count()
    sla_dispatch_breaches = _sla_count()
    sla_acknowledge_warnings = _sla_count()
    sla_acknowledge_breaches = _sla_count()
    sla_response_warnings = _sla_count()
    sla_response_breaches = _sla_count()
    sla_resolve_warnings = _sla_count()
    sla_resolve_breaches = _sla_count()
    sla_events = _sla_count()  # all of them: the SLA figures read only the (few) rows with any

    class Meta:
        indexes = [
            models.Index(fields=["region", "day"], name="incident_fact_region_day_idx"),
            models.Index(fields=["day"], name="incident_fact_day_idx"),
            models.Index(fields=["day"], name="incident_fact_sla_day_idx", condition=Q(sla_events__gt=0)),
        ]

    def __str__(self) -> str:
        return f"incident {self.incident_id} ({self.day})"


class AssignmentFact(models.Model):
    """One assignment, with its incident's dimensions (for filtering) and its own intervals."""

    assignment = models.OneToOneField("dispatch.Assignment", primary_key=True, **_DERIVED)
    incident = models.ForeignKey("incidents.Incident", **_DERIVED)
    agency = models.ForeignKey("dispatch.Agency", db_index=False, **_DERIVED)  # leads the agency/day index
    unit = models.ForeignKey("dispatch.FieldUnit", null=True, **_DERIVED)
    # The incident's dimensions, so the filters apply without going back to the incidents.
    region = models.ForeignKey("incidents.Region", db_index=False, **_DERIVED)  # leads the region/day index
    district = models.ForeignKey("incidents.District", null=True, **_DERIVED)
    category = models.ForeignKey("incidents.Category", **_DERIVED)
    channel = models.CharField(max_length=20)
    day = models.DateField(help_text="Local date the incident was received.")
    first_of_agency = models.BooleanField(
        help_text="The agency's first assignment on the incident (counts cases once)."
    )
    # The incident's own figures, copied so an agency's report reads its rows only (first_of_agency).
    status = models.CharField(max_length=20)
    priority = models.PositiveSmallIntegerField()
    hour = models.PositiveSmallIntegerField(help_text="Local hour the incident was received.")
    incident_response_s = models.FloatField(null=True)
    incident_dispatch_s = models.FloatField(null=True)
    incident_acknowledge_s = models.FloatField(null=True)
    incident_response_in_category = models.BooleanField(null=True)
    incident_dispatch_in_category = models.BooleanField(null=True)
    response_s = models.FloatField(null=True)
    dispatch_s = models.FloatField(null=True)
    acknowledge_s = models.FloatField(null=True)
    response_in_category = models.BooleanField(null=True)
    dispatch_in_category = models.BooleanField(null=True)
    acknowledge_in_category = models.BooleanField(null=True)
    # The SLA events its agency answers for (``reporting.selectors.sla_summary``): this assignment's
    # own acknowledge events; the incident's on-scene and resolve events on one row per agency that
    # did not decline — its first assignment on the incident that is not declined (0 on the others).
    sla_acknowledge_warnings = _sla_count()
    sla_acknowledge_breaches = _sla_count()
    sla_response_warnings = _sla_count()
    sla_response_breaches = _sla_count()
    sla_resolve_warnings = _sla_count()
    sla_resolve_breaches = _sla_count()
    sla_events = _sla_count()  # the six above together

    class Meta:
        indexes = [
            # Covering: an agency's report reads its own rows (a tenth of the city's) from here alone,
            # an index-only scan. Without the columns every row meant a heap page: an agency has a row
            # on nearly every page of the month, and the planner, which cannot know that the agency's
            # rows of a month lie on the month's pages, read the whole month through the day index.
            models.Index(
                fields=["agency", "day"],
                include=[
                    "assignment",
                    "incident",
                    "first_of_agency",
                    "region",
                    "district",
                    "category",
                    "channel",
                    "status",
                    "priority",
                    "hour",
                    "incident_response_s",
                    "incident_dispatch_s",
                    "incident_acknowledge_s",
                    "incident_response_in_category",
                    "incident_dispatch_in_category",
                ],
                name="assignment_fact_agency_day_idx",
            ),
            models.Index(fields=["unit", "day"], name="assignment_fact_unit_day_idx", condition=Q(unit__isnull=False)),
            models.Index(fields=["region", "day"], name="assignment_fact_region_day_idx"),
            models.Index(fields=["day"], name="assignment_fact_day_idx"),
            models.Index(fields=["day"], name="assignment_fact_sla_day_idx", condition=Q(sla_events__gt=0)),
        ]

    def __str__(self) -> str:
        return f"assignment {self.assignment_id} ({self.day})"


class CallFact(models.Model):
    """One call: local day and hour, outcome, answer time and (emergency calls) answer-to-dispatch."""

    call = models.OneToOneField("incidents.Call", primary_key=True, **_DERIVED)
    region = models.ForeignKey("incidents.Region", db_index=False, **_DERIVED)  # leads the region/day index
    channel = models.CharField(max_length=20)
    outcome = models.CharField(max_length=20)
    day = models.DateField(help_text="Local date the call started.")
    hour = models.PositiveSmallIntegerField(help_text="Local hour the call started, 0–23.")
    answer_s = models.FloatField(null=True)
    processing_s = models.FloatField(null=True, help_text="Answered emergency call → first dispatch of its incident.")

    class Meta:
        indexes = [
            models.Index(fields=["region", "day"], name="call_fact_region_day_idx"),
            models.Index(fields=["day"], name="call_fact_day_idx"),
            models.Index(fields=["outcome"], name="call_fact_pending_idx", condition=Q(outcome="pending")),
        ]

    def __str__(self) -> str:
        return f"call {self.call_id} ({self.day})"


class RollupState(models.Model):
    """Where the refresh task got to (one row): the last timeline event and call it has read."""

    last_timeline_id = models.BigIntegerField(default=0)
    last_call_id = models.BigIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True)
    rebuilt_at = models.DateTimeField(null=True, help_text="Last full rebuild; the tables are used once set.")

    def __str__(self) -> str:
        return f"rollups refreshed {self.refreshed_at}"


class CallDailyStat(models.Model):
    """Calls per local day, hour, region, channel and outcome, with the answering counts.

    Call figures follow only the period, region and channel, and call visibility is by region, so
    these counts answer every call count of a report exactly; only the answer-time percentiles
    read the call facts. Recomputed for the days of the calls each refresh touches.
    """

    day = models.DateField()
    region = models.ForeignKey("incidents.Region", db_index=False, **_DERIVED)  # leads the region/day index
    channel = models.CharField(max_length=20)
    hour = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=20)
    calls = models.PositiveIntegerField()
    answered = models.PositiveIntegerField()
    answer_10s = models.PositiveIntegerField()
    answer_15s = models.PositiveIntegerField()
    answer_20s = models.PositiveIntegerField()
    processed = models.PositiveIntegerField(help_text="Answered emergency calls whose incident was dispatched.")
    processing_60s = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "region", "channel", "hour", "outcome"], name="call_daily_stat_unique_cell"
            )
        ]
        indexes = [models.Index(fields=["region", "day"], name="call_daily_stat_region_day_idx")]

    def __str__(self) -> str:
        return f"{self.day} {self.hour:02d}h {self.channel} {self.outcome}: {self.calls}"
