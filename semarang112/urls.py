from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.defaults import server_error

from incidents.health import health
from semarang112.api.exception_handlers import api_server_error

admin.site.site_header = "Command Center 112 Kota Semarang"
admin.site.site_title = "Semarang 112"

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
    path("api/v1/", include("semarang112.api.urls", namespace="api-v1")),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("reports/", include("reporting.urls")),
    path("", include("semarang112.console.urls")),
    path("", include("incidents.urls")),
    path("", include("dispatch.urls")),
]


def _api_aware(api_view, default_view):
    """Problem-details JSON for paths under /api/, Django's pages elsewhere."""

    def view(request, *args, **kwargs):
        target = api_view if request.path.startswith("/api/") else default_view
        return target(request, *args, **kwargs)

    return view


handler500 = _api_aware(api_server_error, server_error)
