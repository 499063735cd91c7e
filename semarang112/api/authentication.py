"""Authentication for the API: integration clients (API keys) and staff (tokens, sessions).

    Authorization: Api-Key <prefix>.<secret>     an integration client
    Authorization: Token <prefix>.<secret>       a staff user's token
    session cookie + X-CSRFToken                 the staff console on the same site

An authenticated client is ``request.user = ApiClientPrincipal`` (not a database user) and
``request.auth = ApiKey``. A revoked key, a revoked token, an inactive client or user gets 401.
"""

from __future__ import annotations

import hmac

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from incidents.services import Actor
from semarang112.core import config_cache

from .models import ApiClient, ApiKey, HashedSecret, StaffToken
from .services import secret_digest, secret_split, secret_touch


class ApiClientPrincipal:
    """``request.user`` for an integration client: authenticated, never a staff user."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, api_client: ApiClient):
        self.api_client = api_client

    @property
    def is_active(self) -> bool:
        return self.api_client.is_active

    def get_username(self) -> str:
        return f"api:{self.api_client.name}"

    def has_perm(self, perm, obj=None) -> bool:
        return False

    def __str__(self) -> str:
        return self.get_username()


def actor_for(request) -> Actor:
    """The services' actor for this request: the staff user, or the client by name."""
    user = request.user
    if isinstance(user, ApiClientPrincipal):
        return Actor(user=None, label=user.get_username())
    return Actor(user=user)


def _active_api_keys() -> dict[str, ApiKey]:
    return {key.prefix: key for key in ApiKey.objects.select_related("client").filter(revoked_at__isnull=True)}


def _cached_api_key(prefix: str) -> ApiKey | None:
    """The unrevoked key with this prefix from the configuration cache (PostgreSQL), else None.

    Every integration request authenticates: the keys and their clients are a few hundred rows
    that change rarely, so each process keeps them under the configuration version (a revocation,
    a new key or a client change bumps it; see core migration 0003). A miss — an unknown, revoked
    or mistyped key — goes to the database like before.
    """
    if config_cache.current_version() is None:
        return None
    return config_cache.cached("api_keys", _active_api_keys).get(prefix)


def _find(model: type[HashedSecret], raw: str, *related: str) -> HashedSecret:
    parts = secret_split(raw)
    if parts is None:
        raise exceptions.AuthenticationFailed(_("Malformed credentials."), code="authentication_failed")
    prefix, raw = parts
    row = _cached_api_key(prefix) if model is ApiKey else None
    if row is None:
        try:  # the prefix is unique (get(): no ORDER BY to build, unlike first())
            row = model.objects.select_related(*related).get(prefix=prefix)
        except model.DoesNotExist:
            row = None
    # Compare digests in constant time; an unknown prefix fails the same way.
    if row is None or not hmac.compare_digest(row.digest, secret_digest(raw)):
        raise exceptions.AuthenticationFailed(_("Invalid credentials."), code="authentication_failed")
    if row.revoked_at is not None:
        raise exceptions.AuthenticationFailed(_("These credentials have been revoked."), code="credentials_revoked")
    return row


class _HeaderAuthentication(authentication.BaseAuthentication):
    keyword = ""

    def credentials(self, request) -> str | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Malformed credentials."), code="authentication_failed")
        try:
            return header[1].decode("ascii")
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_("Malformed credentials."), code="authentication_failed") from None

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'


class ApiKeyAuthentication(_HeaderAuthentication):
    """``Authorization: Api-Key <key>`` → (ApiClientPrincipal, ApiKey)."""

    keyword = "Api-Key"

    def authenticate(self, request):
        raw = self.credentials(request)
        if raw is None:
            return None
        key: ApiKey = _find(ApiKey, raw, "client")
        if not key.client.is_active:
            raise exceptions.AuthenticationFailed(_("This API client is disabled."), code="client_inactive")
        secret_touch(secret=key)
        return ApiClientPrincipal(key.client), key


class StaffTokenAuthentication(_HeaderAuthentication):
    """``Authorization: Token <token>`` → (User, StaffToken)."""

    keyword = "Token"

    def authenticate(self, request):
        raw = self.credentials(request)
        if raw is None:
            return None
        token: StaffToken = _find(StaffToken, raw, "user")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("This user account is disabled."), code="user_inactive")
        secret_touch(secret=token)
        return token.user, token
