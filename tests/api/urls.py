"""Only the API, so the API tests do not depend on the web console's URLs."""

from django.urls import include, path

urlpatterns = [path("api/v1/", include("semarang112.api.urls", namespace="api-v1"))]
