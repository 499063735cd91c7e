"""Admin for integration clients and staff tokens: keys are shown once, then only their prefix."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from . import services
from .models import SCOPE_CHOICES, ApiClient, ApiKey, IdempotencyRecord, StaffToken


class ApiClientForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=SCOPE_CHOICES, widget=forms.CheckboxSelectMultiple, required=False)

    class Meta:
        model = ApiClient
        fields = ["name", "description", "agency", "scopes", "is_active", "throttle_rate"]


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    can_delete = False
    fields = ["prefix", "name", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]

    def has_add_permission(self, request, obj=None):
        return False  # keys are issued with the "Issue a new API key" action (shown once)


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    form = ApiClientForm
    list_display = ["name", "agency", "scope_list", "is_active", "created_at"]
    list_filter = ["is_active", "agency"]
    search_fields = ["name", "description"]
    inlines = [ApiKeyInline]
    actions = ["issue_key", "revoke_keys"]

    @admin.display(description=_("scopes"))
    def scope_list(self, obj):
        return ", ".join(obj.scopes or [])

    @admin.action(description=_("Issue a new API key (shown once)"))
    def issue_key(self, request, queryset):
        for client in queryset:
            _key, raw = services.api_key_create(client=client, name=f"issued by {request.user.get_username()}")
            self.message_user(
                request,
                _("New key for %(client)s — copy it now, it will not be shown again: %(key)s")
                % {"client": client.name, "key": raw},
                level=messages.WARNING,
            )

    @admin.action(description=_("Revoke every key of the selected clients"))
    def revoke_keys(self, request, queryset):
        keys = ApiKey.objects.filter(client__in=queryset, revoked_at__isnull=True)
        count = 0
        for key in keys:
            services.secret_revoke(secret=key)
            count += 1
        self.message_user(request, _("%(count)d keys revoked.") % {"count": count})


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "client", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["client"]
    search_fields = ["prefix", "name", "client__name"]
    readonly_fields = ["prefix", "client", "created_at", "last_used_at", "revoked_at"]
    fields = ["prefix", "client", "name", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Revoke the selected keys"))
    def revoke(self, request, queryset):
        for key in queryset.filter(revoked_at__isnull=True):
            services.secret_revoke(secret=key)


@admin.register(StaffToken)
class StaffTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "user", "name", "created_at", "last_used_at", "revoked_at"]
    search_fields = ["prefix", "name", "user__username"]
    readonly_fields = ["prefix", "user", "created_at", "last_used_at", "revoked_at"]
    fields = ["prefix", "user", "name", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Revoke the selected tokens"))
    def revoke(self, request, queryset):
        for token in queryset.filter(revoked_at__isnull=True):
            services.secret_revoke(secret=token)


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    list_display = ["scope", "key", "method", "path", "state", "status_code", "created_at", "expires_at"]
    list_filter = ["state", "method"]
    search_fields = ["scope", "key"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
