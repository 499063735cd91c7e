from django.urls import path, re_path

from . import views

app_name = "reporting"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("monthly/", views.monthly, name="monthly"),
    re_path(r"^export/figures\.(?P<file_format>csv|xlsx)$", views.export_figures, name="export_figures"),
    re_path(r"^export/incidents\.(?P<file_format>csv|xlsx)$", views.export_incidents, name="export_incidents"),
    path("exports/", views.export_list, name="exports"),
    path("exports/<int:pk>/download/", views.export_download, name="export_download"),
]
