"""Report pages of the console: filters in the URL, Indonesian and English, permission, bounded queries."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

FEB = {"period": "month", "date": "2025-02"}


def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get(reverse("reporting:overview"), FEB)

    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", ["reporting:overview", "reporting:monthly", "reporting:exports"])
def test_pages_need_the_report_right(client, february, operator, name):
    client.force_login(operator)

    assert client.get(reverse(name), FEB).status_code == 403


def test_overview_in_indonesian(client, february, supervisor, django_assert_max_num_queries):
    client.force_login(supervisor)

    with django_assert_max_num_queries(40):
        response = client.get(reverse("reporting:overview"), FEB, HTTP_ACCEPT_LANGUAGE="id")

    assert response.status_code == 200, response.content
    html = response.content.decode()
    assert "Laporan — Februari 2025" in html
    assert "Waktu respons" in html
    assert 'src="/static/vendor/chartjs/chart.umd.js"' in html
    charts = json.loads(response.context["charts"] and json.dumps(response.context["charts"]))
    assert charts["daily"]["incidents"][27] == 1 and len(charts["daily"]["labels"]) == 28
    # Filters stay in the links: the export and the monthly page show the same report.
    assert "period=month&amp;date=2025-02" in html
    assert reverse("reporting:export_incidents", args=["csv"]) in html


def test_overview_in_english(client, february, supervisor):
    client.force_login(supervisor)

    response = client.get(reverse("reporting:overview"), FEB, HTTP_ACCEPT_LANGUAGE="en")

    html = response.content.decode()
    assert "Reports — February 2025" in html and "Response times" in html


def test_bad_filters_show_on_the_form(client, february, supervisor):
    client.force_login(supervisor)

    response = client.get(reverse("reporting:overview"), {"period": "custom", "from": "2025-03-10", "to": "2025-03-01"})

    assert response.status_code == 400
    assert response.context["form"].errors["to"]
    assert "report" not in response.context


def test_the_monthly_report_is_titled_like_the_citys_summary(client, february, supervisor):
    client.force_login(supervisor)

    response = client.get(reverse("reporting:monthly"), {"date": "2025-02"}, HTTP_ACCEPT_LANGUAGE="id")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Laporan Bulanan Command Center 112 Kota Semarang — Februari 2025" in html
    assert "@media print" not in html  # print rules live in the stylesheet
    assert 'href="/static/reporting/reports.css"' in html
    assert "8 laporan diterima pada Februari 2025" in html


def test_an_agency_supervisor_sees_its_own_report(client, february, damkar_supervisor):
    client.force_login(damkar_supervisor)

    response = client.get(reverse("reporting:overview"), FEB)

    assert response.status_code == 200
    assert response.context["report"].incidents.total == 5


@pytest.mark.parametrize("model", ["calendarmarker", "reportexport", "rollupstate"])
def test_the_admin_lists_reporting_records(client, seeded, model):
    from tests.factories import UserFactory

    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))

    response = client.get(reverse(f"admin:reporting_{model}_changelist"))

    assert response.status_code == 200, response.content[:500]
