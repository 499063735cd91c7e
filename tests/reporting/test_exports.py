"""CSV and XLSX exports parse back to the report's numbers; personal data masked per the permission rules."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import load_workbook

from dispatch import services as dispatch_services
from incidents.models import Incident
from reporting import exports, selectors
from reporting.filters import parse_report_filters
from reporting.models import ReportExport
from reporting.tasks import report_exports_purge_task

from .conftest import at, wib

pytestmark = pytest.mark.django_db

FEB = {"period": "month", "date": "2025-02", "lang": "en"}


@pytest.fixture(autouse=True)
def _exports_dir(settings, tmp_path):
    settings.REPORT_EXPORT_DIR = tmp_path / "exports"


def _get(client, name: str, fmt: str, params: dict, **extra):
    return client.get(reverse(name, args=[fmt]), {k: v for k, v in params.items() if k != "lang"}, **extra)


def _csv(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def _xlsx(response) -> dict[str, list[tuple]]:
    assert response.status_code == 200, getattr(response, "content", b"")
    data = b"".join(response.streaming_content)
    workbook = load_workbook(io.BytesIO(data), read_only=True)
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in workbook.worksheets}


def _report(user):
    with translation.override("en"):
        return selectors.full_report(user, parse_report_filters(FEB))


EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


# ------------------------------------------------------------------------------------------------
# The incident list
# ------------------------------------------------------------------------------------------------
def test_incident_list_csv_streams_and_parses_back(client, february, supervisor, django_assert_max_num_queries):
    client.force_login(supervisor)

    with django_assert_max_num_queries(12):
        rows = _csv(_get(client, "reporting:export_incidents", "csv", FEB, **EN))

    assert [row["Reference"] for row in rows] == [
        february.cases[name].reference for name in ("F1", "F2", "M1", "X1", "F3", "F4", "B1", "F5")
    ]
    f5 = next(row for row in rows if row["Reference"] == february.cases["F5"].reference)
    assert f5["Received (local time)"] == "2025-02-28 23:59:59"  # local time, not UTC
    assert (f5["Response time (s)"], f5["Within 10-minute target"], f5["District"]) == ("900.0", "No", "Candisari")
    assert f5["Caller name"] == "Budi Santoso" and f5["Caller number"] == "+6281234567890"  # the command center sees it
    response_times = sorted(float(r["Response time (s)"]) for r in rows if r["Response time (s)"])
    assert response_times == [120.0, 300.0, 420.0, 540.0, 660.0, 900.0]


def test_personal_data_is_masked_where_the_agency_may_not_see_it(
    client, february, damkar_supervisor, dispatcher, seeded, settings
):
    # B1 (BPBD's flood) is shared with damkar to view: visible, but without the caller's details.
    settings.INCIDENT_SHARE_MAX_DAYS = 36500  # shared in February 2025, still live when exported today
    with at(wib(2025, 2, 20, 16, 5)):
        dispatch_services.incident_share(
            incident=february.cases["B1"], agency=seeded.agency("damkar"), level="view", actor=dispatcher
        )
    client.force_login(damkar_supervisor)

    rows = {row["Reference"]: row for row in _csv(_get(client, "reporting:export_incidents", "csv", FEB, **EN))}

    assert len(rows) == 6  # F1–F5 assigned, B1 shared
    shared = rows[february.cases["B1"].reference]
    assert (shared["Caller name"], shared["Caller number"]) == ("B*** S***", "+628****890")
    own = rows[february.cases["F1"].reference]
    assert own["Caller name"] == "Budi Santoso"


@override_settings(AUDITOR_SEES_PERSONAL_DATA=False)
def test_auditors_get_masked_personal_data(client, february, auditor):
    client.force_login(auditor)

    rows = _csv(_get(client, "reporting:export_incidents", "csv", FEB, **EN))

    assert len(rows) == 8 and {row["Caller name"] for row in rows} == {"B*** S***"}


def test_incident_list_xlsx_parses_back(client, february, supervisor):
    client.force_login(supervisor)

    sheets = _xlsx(_get(client, "reporting:export_incidents", "xlsx", FEB, **EN))

    (rows,) = sheets.values()
    header, body = rows[0], rows[1:]
    assert len(body) == 8
    response = header.index("Response time (s)")
    assert sorted(r[response] for r in body if r[response] is not None) == [120.0, 300.0, 420.0, 540.0, 660.0, 900.0]


# ------------------------------------------------------------------------------------------------
# The figures
# ------------------------------------------------------------------------------------------------
def test_figures_xlsx_parses_back_to_the_report(client, february, supervisor):
    client.force_login(supervisor)
    report = _report(supervisor)

    sheets = _xlsx(_get(client, "reporting:export_figures", "xlsx", FEB, **EN))

    tables = exports.report_tables(report)
    assert list(sheets) == [exports.sheet_title(n, t.title) for n, t in enumerate(tables, start=1)]
    sheets = {table.key: rows for table, rows in zip(tables, sheets.values(), strict=True)}
    summary = dict(sheets["summary"][1:])
    assert summary["Incidents received"] == report.incidents.total == 8
    assert summary["Median response time (s)"] == report.response.overall.response.median == 480.0
    assert summary["Responses within 10 minutes (%)"] == 66.7
    agencies = sheets["response-agency"]
    header = agencies[0]
    damkar = next(row for row in agencies[1:] if row[header.index("Code")] == "damkar")
    assert damkar[header.index("Rank")] == 1
    assert (damkar[header.index("Response: median (s)")], damkar[header.index("Response: p90 (s)")]) == (540.0, 804.0)
    psc = next(row for row in agencies[1:] if row[header.index("Code")] == "dinkes-psc")
    assert psc[header.index("Rank")] == "not ranked"
    heatmap = sheets["heatmap"]
    assert sum(sum(row[1:]) for row in heatmap[1:]) == 8


def test_one_figure_as_csv(client, february, supervisor):
    client.force_login(supervisor)

    rows = _csv(_get(client, "reporting:export_figures", "csv", {**FEB, "table": "answering-shift"}, **EN))

    assert [(r["Calls"], r["Answered"], r["% answered within 10 s"]) for r in rows] == [
        ("5", "4", "50.0"),
        ("1", "1", "0.0"),
        ("2", "2", "50.0"),
    ]
    assert _get(client, "reporting:export_figures", "csv", {**FEB, "table": "nope"}).status_code == 400


def test_bad_filters_are_a_400(client, february, supervisor):
    client.force_login(supervisor)

    response = client.get(
        reverse("reporting:export_incidents", args=["csv"]), {"period": "custom", "from": "2025-02-01"}
    )

    assert response.status_code == 400 and b"to:" in response.content


def test_exports_need_the_report_right(client, february, operator):
    client.force_login(operator)

    assert _get(client, "reporting:export_incidents", "csv", FEB).status_code == 403
    assert _get(client, "reporting:export_figures", "xlsx", FEB).status_code == 403


# ------------------------------------------------------------------------------------------------
# Long XLSX lists: built by a Celery task, downloaded by their requester only
# ------------------------------------------------------------------------------------------------
@override_settings(REPORT_EXPORT_SYNC_MAX_ROWS=3)
def test_a_long_xlsx_is_built_in_the_background(
    client, february, supervisor, damkar_supervisor, celery_eager, django_capture_on_commit_callbacks
):
    client.force_login(supervisor)

    with django_capture_on_commit_callbacks(execute=True):
        response = _get(client, "reporting:export_incidents", "xlsx", FEB, **EN)

    assert response.status_code == 302 and response["Location"].startswith(reverse("reporting:exports"))
    export = ReportExport.objects.get()
    assert (export.status, export.row_count, export.language) == ("ready", 8, "en")
    assert export.params == {"period": "month", "date": "2025-02"}
    listing = client.get(reverse("reporting:exports"))
    assert reverse("reporting:export_download", args=[export.pk]).encode() in listing.content
    sheets = _xlsx(client.get(reverse("reporting:export_download", args=[export.pk])))
    assert len(next(iter(sheets.values()))) == 9  # header + 8 incidents

    client.force_login(damkar_supervisor)
    assert client.get(reverse("reporting:export_download", args=[export.pk])).status_code == 404


def test_the_build_task_is_safe_to_run_twice(february, supervisor, settings):
    from reporting import services

    export = ReportExport.objects.create(
        requested_by=supervisor, dataset="incidents", format="csv", params={"period": "month", "date": "2025-02"}
    )

    first = services.report_export_build(export_id=export.pk)
    second = services.report_export_build(export_id=export.pk)

    assert first.status == "ready" and first.row_count == 8 and second is None
    assert services.report_export_build(export_id=export.pk + 1000) is None


def test_expired_exports_are_purged(february, supervisor):
    from reporting import services

    export = ReportExport.objects.create(
        requested_by=supervisor, dataset="figures", format="xlsx", params={"period": "month", "date": "2025-02"}
    )
    export = services.report_export_build(export_id=export.pk)
    storage = exports.export_storage()
    assert storage.exists(export.file_name)

    ReportExport.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert report_exports_purge_task() == 1
    assert not storage.exists(export.file_name)
    assert ReportExport.objects.get(pk=export.pk).status == "expired"
    assert report_exports_purge_task() == 0


def test_the_export_reads_in_chunks(february, supervisor, monkeypatch):
    seen = []
    original = type(Incident.objects.all()).iterator

    def spy(self, chunk_size=None):
        seen.append(chunk_size)
        return original(self, chunk_size=chunk_size)

    monkeypatch.setattr(type(Incident.objects.all()), "iterator", spy)

    rows = list(exports.incident_rows(supervisor, parse_report_filters(FEB)))

    assert len(rows) == 8 and seen == [exports.CHUNK_SIZE]
