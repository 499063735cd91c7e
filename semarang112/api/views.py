"""Shared view plumbing (ETags, input parsing) and the staff token endpoint."""

from __future__ import annotations

import re

from django.contrib.auth import authenticate
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from . import services
from .authentication import ApiClientPrincipal
from .exceptions import ApiError, PreconditionFailed
from .fields import StrictFieldsMixin
from .models import StaffToken

_ETAG_VERSION = re.compile(r'^(?:W/)?"?(\d{1,10})"?$')


def etag_for(version: int) -> str:
    """Weak: the representation depends on who asks (masking), the version does not."""
    return f'W/"{version}"'


def if_match_version(request, current_version: int) -> int | None:
    """The version an If-Match header pins, or None without one. Mismatch → 412."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    tags = [tag.strip() for tag in header.split(",") if tag.strip()]
    if "*" in tags:
        return None
    for tag in tags:
        match = _ETAG_VERSION.match(tag)
        if match and int(match.group(1)) == current_version:
            return current_version
    raise PreconditionFailed(extra={"current_version": current_version})


def parse_input(serializer_class, request, **kwargs):
    """Validate the body with ``serializer_class``; 400 problem on failure. Returns validated_data."""
    serializer = serializer_class(data=request.data, context={"request": request}, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class TokenCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, style={"input_type": "password"}, write_only=True)
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, help_text="Label, e.g. the device.")


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Shown once. Send as `Authorization: Token <token>`.")
    prefix = serializers.CharField()
    name = serializers.CharField()
    created_at = serializers.DateTimeField()


class StaffTokenView(APIView):
    """Staff tokens: exchange a username and password for a token, or revoke the token in use."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def get_authenticators(self):
        if self.request is not None and self.request.method == "DELETE":
            from .authentication import StaffTokenAuthentication

            return [StaffTokenAuthentication()]
        return []

    def get_permissions(self):
        if self.request is not None and self.request.method == "DELETE":
            return [IsAuthenticated()]
        return [AllowAny()]

    @extend_schema(
        operation_id="auth_token_create",
        summary="Get a staff token",
        description="Permissions: none (username and password of an active staff user). "
        "The token is shown once and stored only as a SHA-256 digest.",
        request=TokenCreateSerializer,
        responses={201: TokenSerializer},
        auth=[],
        examples=[
            OpenApiExample(
                "Login", value={"username": "operator", "password": "…", "name": "console PC 3"}, request_only=True
            )
        ],
    )
    def post(self, request):
        data = parse_input(TokenCreateSerializer, request)
        user = authenticate(request._request, username=data["username"], password=data["password"])
        if user is None or not user.is_active:
            raise ApiError(_("Wrong username or password."), code="invalid_credentials")
        token, raw = services.staff_token_create(user=user, name=data.get("name", ""))
        body = {"token": raw, "prefix": token.prefix, "name": token.name, "created_at": token.created_at}
        return Response(TokenSerializer(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="auth_token_destroy",
        summary="Revoke the token in use",
        description="Permissions: a staff token (`Authorization: Token …`). Later requests with it get 401.",
        responses={204: None},
    )
    def delete(self, request):
        if isinstance(request.user, ApiClientPrincipal) or not isinstance(request.auth, StaffToken):
            raise exceptions.NotAuthenticated()
        services.secret_revoke(secret=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)
