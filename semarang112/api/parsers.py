"""Request parsers: JSON only, with a body-size limit (DRF itself reads bodies of any size)."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from .exceptions import ApiError


class RequestTooLarge(ApiError):
    code = "request_too_large"
    http_status = 413
    default_message = _("The request body is too large.")


class LimitedJSONParser(JSONParser):
    """application/json up to DATA_UPLOAD_MAX_MEMORY_SIZE bytes (Django's default: 2.5 MB)."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if request is not None and limit is not None:
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                raise RequestTooLarge()
        data = super().parse(stream, media_type, parser_context)
        if not _encodable(data):
            raise ParseError(_("JSON parse error - the body contains invalid Unicode (a lone surrogate)."))
        return data


def _encodable(value) -> bool:
    """False if any string holds a lone surrogate ("\\ud835" is valid JSON but not valid UTF-8)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_encodable(key) and _encodable(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_encodable(item) for item in value)
    return True
