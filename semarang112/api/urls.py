"""/api/v1/: the resources, the staff token endpoint, the OpenAPI schema and its documentation.

Swagger UI and ReDoc are served from drf-spectacular-sidecar's local files (no CDN).
"""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from .exception_handlers import api_page_not_found
from .views import StaffTokenView

app_name = "api-v1"

urlpatterns = [
    path("", include("incidents.api.urls")),
    path("", include("dispatch.api.urls")),
    path("", include("reporting.api.urls")),
    path("auth/token/", StaffTokenView.as_view(), name="auth-token"),
    path("schema/", SpectacularAPIView.as_view(api_version="1.0.0"), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-v1:schema"), name="swagger-ui"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-v1:schema"), name="redoc"),
    # Anything else under /api/v1/ is a problem-details 404, not Django's HTML page.
    re_path(r"^.*$", api_page_not_found),
]
