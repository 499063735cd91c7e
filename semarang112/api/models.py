"""API plumbing: integration clients, hashed keys and tokens, and remembered idempotent responses.

Keys and tokens are long random secrets, so a SHA-256 digest is as safe as a password hash for
them and costs microseconds instead of PBKDF2's ~190 ms per request. Each secret starts with a
short public prefix that finds its row by index; the digest is then compared in constant time.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

SCOPE_CHOICES = [
    ("incidents:create", _("incidents:create — report incidents and calls")),
    ("incidents:read", _("incidents:read — read incidents, calls and reference data")),
    ("incidents:write", _("incidents:write — edit incidents and change their status")),
    ("assignments:write", _("assignments:write — move assignments (acknowledge, on scene…)")),
    ("reports:read", _("reports:read — statistics and exports")),
]
SCOPES = tuple(code for code, _label in SCOPE_CHOICES)


def validate_scopes(value) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError(_("Scopes must be a list of strings."))
    unknown = sorted(set(value) - set(SCOPES))
    if unknown:
        raise ValidationError(_("Unknown scopes: %(scopes)s.") % {"scopes": ", ".join(unknown)})


# The grammar the throttle reads (semarang112.api.throttling.parse_rate): a count, a slash and a period.
validate_throttle_rate = RegexValidator(
    r"^[1-9][0-9]{0,8}/(s|sec|second|m|min|minute|h|hour|d|day)$",
    _("Write a rate as a number of requests per period, e.g. 1200/min (periods: s, min, hour, day)."),
    code="invalid_rate",
)


class ApiClient(models.Model):
    """An external system: the national 112 platform, a citizen app, CCTV analytics, an OPD's software."""

    name = models.SlugField(_("name"), max_length=60, unique=True, help_text=_("Shown in timelines as api:<name>."))
    description = models.TextField(_("description"), blank=True)
    agency = models.ForeignKey(
        "dispatch.Agency",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="api_clients",
        verbose_name=_("owning agency"),
        help_text=_("Empty: the client works for the command center within its scopes."),
    )
    # A JSON list rather than an ArrayField so the same schema runs on SQLite.
    scopes = models.JSONField(_("scopes"), default=list, blank=True, validators=[validate_scopes])
    is_active = models.BooleanField(_("active"), default=True)
    throttle_rate = models.CharField(
        _("rate limit"),
        max_length=20,
        blank=True,
        validators=[validate_throttle_rate],
        help_text=_("e.g. 1200/min; empty uses the API_THROTTLE_CLIENT_RATE setting."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("API client")
        verbose_name_plural = _("API clients")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class HashedSecret(models.Model):
    """A secret shown once: stored as a public lookup prefix and the SHA-256 of the whole secret."""

    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    digest = models.CharField(_("SHA-256 digest"), max_length=64, editable=False)
    name = models.CharField(_("label"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # Written at most once per API_KEY_LAST_USED_RESOLUTION_SECONDS, not on every request.
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.prefix}… {self.name}".strip()

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class ApiKey(HashedSecret):
    """One key of an integration client (several during a rotation)."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="keys", verbose_name=_("client"))

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]


class StaffToken(HashedSecret):
    """A bearer token of a staff user (the console on another origin, scripts). Hashed like API keys."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )

    class Meta:
        verbose_name = _("staff API token")
        verbose_name_plural = _("staff API tokens")
        ordering = ["-created_at"]


class IdempotencyRecord(models.Model):
    """The remembered outcome of one POST sent with an Idempotency-Key.

    The row is inserted when the request starts and completed in the same transaction as the
    object it created, so a committed row is always ``completed``; an ``in_flight`` row is only
    ever seen by the transaction that is still working on it.
    """

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight", _("In flight")  # the first request is still being processed
        COMPLETED = "completed", _("Completed")  # response stored; retries replay it

    scope = models.CharField(_("scope"), max_length=40, help_text=_("client:<id> or user:<id>"))
    key = models.CharField(_("idempotency key"), max_length=255)
    fingerprint = models.CharField(_("request fingerprint"), max_length=64)
    method = models.CharField(_("method"), max_length=8)
    path = models.CharField(_("path"), max_length=255)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.IN_FLIGHT)
    status_code = models.PositiveSmallIntegerField(_("status code"), null=True, blank=True)
    response_body = models.JSONField(_("response body"), null=True, blank=True)
    response_headers = models.JSONField(_("response headers"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"))

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_unique_scope_key")]
        indexes = [models.Index(fields=["expires_at"], name="idempotency_expires_idx")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key} ({self.state})"
