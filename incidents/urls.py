from django.urls import path

from . import views

app_name = "incidents"

urlpatterns = [
    path("intake/", views.intake, name="intake"),
    path("intake/caller/", views.intake_caller, name="intake_caller"),
    path("intake/villages/", views.intake_villages, name="intake_villages"),
    path("intake/duplicates/", views.intake_duplicates, name="intake_duplicates"),
    path("queue/", views.queue, name="queue"),
    path("incidents/<int:pk>/", views.incident_detail, name="detail"),
    path("incidents/<int:pk>/presence/", views.incident_presence, name="presence"),
    path("incidents/<int:pk>/edit/", views.incident_edit, name="edit"),
    path("incidents/<int:pk>/category/", views.incident_category, name="category"),
    path("incidents/<int:pk>/<slug:action>/", views.incident_action, name="action"),
    path("map/", views.incident_map, name="map"),
    path("map/data/", views.incident_map_data, name="map_data"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/badge/", views.notifications_badge, name="notifications_badge"),
    path("notifications/read/", views.notifications_mark_read, name="notifications_read"),
]
