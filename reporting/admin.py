"""Admin for reporting: calendar markers are edited here (fix Ramadan / Lebaran dates once the
government's sidang isbat announces them); exports and the rollup state are shown read-only."""

from django.contrib import admin

from .models import CalendarMarker, ReportExport, RollupState


@admin.register(CalendarMarker)
class CalendarMarkerAdmin(admin.ModelAdmin):
    list_display = ("name_id", "name_en", "kind", "starts_on", "ends_on", "is_estimate")
    list_filter = ("kind", "is_estimate")
    ordering = ("-starts_on",)


@admin.register(ReportExport)
class ReportExportAdmin(admin.ModelAdmin):
    list_display = ("created_at", "requested_by", "dataset", "format", "status", "row_count", "expires_at")
    list_filter = ("status", "dataset", "format")
    list_select_related = ("requested_by",)
    readonly_fields = [f.name for f in ReportExport._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RollupState)
class RollupStateAdmin(admin.ModelAdmin):
    list_display = ("rebuilt_at", "refreshed_at", "last_timeline_id", "last_call_id")
    readonly_fields = ("rebuilt_at", "refreshed_at", "last_timeline_id", "last_call_id")

    def has_add_permission(self, request) -> bool:
        return False
