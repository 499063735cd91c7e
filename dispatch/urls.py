from django.urls import path

from . import views

app_name = "dispatch"

urlpatterns = [
    path("dispatch/", views.board, name="board"),
    path("dispatch/<int:pk>/", views.board, name="incident"),
    path("inbox/", views.inbox, name="inbox"),
    path("assignments/<int:pk>/assign/", views.assignment_assign, name="assign"),
    path("assignments/<int:pk>/<slug:step>/", views.assignment_step, name="step"),
]
