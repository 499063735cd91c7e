from django.contrib import admin
from django.urls import include, path
from django.views.defaults import server_error
from django.views.generic import RedirectView

from semarang112.api.exception_handlers import api_server_error

admin.site.site_header = "Command Center 112 Kota Semarang"
admin.site.site_title = "Semarang 112"

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("semarang112.api.urls", namespace="api-v1")),
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
]


def _api_aware(api_view, default_view):
    """Problem-details JSON for paths under /api/, Django's pages elsewhere."""

    def view(request, *args, **kwargs):
        target = api_view if request.path.startswith("/api/") else default_view
        return target(request, *args, **kwargs)

    return view


handler500 = _api_aware(api_server_error, server_error)
