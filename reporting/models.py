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
