"""/api/v1/reports/ (included by semarang112/api/urls.py)."""

from django.urls import path

from . import views

urlpatterns = [
    path("reports/summary/", views.SummaryReportView.as_view(), name="report-summary"),
    path("reports/calls/", views.CallsReportView.as_view(), name="report-calls"),
    path("reports/incidents/", views.IncidentsReportView.as_view(), name="report-incidents"),
    path("reports/response-times/", views.ResponseTimesReportView.as_view(), name="report-response-times"),
    path("reports/sla/", views.SlaReportView.as_view(), name="report-sla"),
    path("reports/patterns/", views.PatternsReportView.as_view(), name="report-patterns"),
    path("reports/comparison/", views.ComparisonReportView.as_view(), name="report-comparison"),
]
