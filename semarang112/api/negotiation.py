"""Content negotiation: DRF's own, remembered per Accept header.

DRF parses the ``Accept`` header and each renderer's media type and matches them on every request
(about 1 % of an intake's CPU). The answer depends only on the view's renderer classes, the header
and the requested format (``?format=`` or a suffix), and integration clients send the same header
every time, so the answer is kept per process for those three. A refusal (406, or 404 for an
unknown format) is not kept: it is raised again by DRF's code each time. At most ``MAX_ENTRIES``
answers are kept (a client cannot grow the process by sending many different headers).
"""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation

MAX_ENTRIES = 256
_answers: dict[tuple, tuple[int, str]] = {}


class CachedContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        fmt = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        key = (tuple(type(renderer) for renderer in renderers), request.META.get("HTTP_ACCEPT"), fmt)
        answer = _answers.get(key)
        if answer is None:
            renderer, media_type = super().select_renderer(request, renderers, format_suffix)
            index = next(i for i, candidate in enumerate(renderers) if candidate is renderer)
            if len(_answers) >= MAX_ENTRIES:
                _answers.clear()
            _answers[key] = answer = (index, media_type)
        index, media_type = answer
        return renderers[index], media_type
