"""Chart data for the report pages: plain JSON for ``json_script``, drawn by reporting/reports.js."""

from __future__ import annotations

from django.utils.translation import gettext as _

from .selectors import Report


def _pct(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 2)


def report_chart_data(report: Report) -> dict:
    response = report.response
    agencies = [row for row in response.by_agency if row.response.count]
    return {
        "daily": {
            "labels": [d.day.isoformat() for d in report.patterns.daily],
            "incidents": [d.incidents for d in report.patterns.daily],
            "calls": [d.calls for d in report.patterns.daily],
            "markers": [
                {"label": m.label, "kind": m.kind, "start": m.start.isoformat(), "end": m.end.isoformat()}
                for m in report.patterns.markers
            ],
            "titles": {"incidents": _("Incidents"), "calls": _("Calls")},
        },
        "outcomes": {
            "labels": [row.label for row in report.calls.by_outcome if row.count],
            "values": [row.count for row in report.calls.by_outcome if row.count],
        },
        "categories": {
            "labels": [row.label for row in report.incidents.by_top_category],
            "values": [row.count for row in report.incidents.by_top_category],
            "title": _("Incidents"),
        },
        "answering": {
            "labels": [row.label for row in report.answering.by_hour],
            "calls": [row.calls for row in report.answering.by_hour],
            "within15": [_pct(row.answer_15s_share) for row in report.answering.by_hour],
            "within20": [_pct(row.answer_20s_share) for row in report.answering.by_hour],
            "goal15": 90,
            "goal20": 95,
            "titles": {
                "calls": _("Calls"),
                "within15": _("% answered within 15 s"),
                "within20": _("% answered within 20 s"),
            },
        },
        "agencies": {
            "labels": [row.label for row in agencies],
            "median": [_minutes(row.response.median) for row in agencies],
            "p90": [_minutes(row.response.p90) for row in agencies],
            "target": response.target_minutes,
            "titles": {"median": _("Median (min)"), "p90": _("90th percentile (min)"), "target": _("Target")},
        },
    }
