"""Forms of the staff console: parse and check input; the services decide the rest."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import Call, Category, Channel, District, Incident, Priority, Village

INTAKE_CREATE = "create"
INTAKE_ATTACH = "attach"
INTAKE_OUTCOMES = (Call.Outcome.PRANK, Call.Outcome.SILENT, Call.Outcome.INFORMATION, Call.Outcome.WRONG_NUMBER)


def place_fields() -> tuple[forms.Field, ...]:
    """Fresh address, district, village, latitude and longitude fields (intake and edit forms);
    the views narrow the district and village querysets to the incident's region."""
    return (
        forms.CharField(label=_("Address / landmark"), max_length=500, required=False),
        forms.ModelChoiceField(label=_("District (kecamatan)"), queryset=District.objects.none(), required=False),
        forms.ModelChoiceField(label=_("Village (kelurahan)"), queryset=Village.objects.none(), required=False),
        forms.DecimalField(
            label=_("Latitude"), max_digits=9, decimal_places=6, min_value=Decimal("-90"), max_value=Decimal("90"),
            required=False,
        ),
        forms.DecimalField(
            label=_("Longitude"), max_digits=9, decimal_places=6, min_value=Decimal("-180"),
            max_value=Decimal("180"), required=False,
        ),
    )


class CallIntakeForm(forms.Form):
    """One call: who, what, where. Category and description are needed only to open an incident."""

    # When the page was opened (the call started), as ISO 8601; never a reason to refuse the call.
    started_at = forms.CharField(required=False, widget=forms.HiddenInput)
    caller_number = forms.CharField(label=_("Caller number"), max_length=32, required=False)
    caller_name = forms.CharField(label=_("Caller name"), max_length=120, required=False)
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices, initial=Channel.PHONE_112)
    category = forms.ModelChoiceField(label=_("Category"), queryset=Category.objects.none(), required=False)
    priority = forms.TypedChoiceField(
        label=_("Priority"),
        choices=[("", _("Category default"))] + list(Priority.choices),
        coerce=int,
        empty_value=None,
        required=False,
    )
    description = forms.CharField(
        label=_("What happened"), max_length=5000, required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    address, district, village, latitude, longitude = place_fields()
    notes = forms.CharField(label=_("Call notes"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, region=None, intent: str = INTAKE_CREATE, **kwargs):
        super().__init__(*args, **kwargs)
        self.intent = intent
        self.fields["category"].queryset = Category.objects.filter(is_active=True).select_related("parent")
        districts = District.objects.all()
        villages = Village.objects.select_related("district")
        if region is not None:
            districts = districts.filter(region=region)
            villages = villages.filter(district__region=region)
        self.fields["district"].queryset = districts
        self.fields["village"].queryset = villages
        if self.is_bound and self.data.get("district", "").isdigit():
            self.fields["village"].queryset = villages.filter(district_id=int(self.data["district"]))
        self._wire_widgets()

    def _wire_widgets(self) -> None:
        """Keyboard-first attributes and the htmx look-ups of the intake page."""
        from django.urls import reverse

        number = self.fields["caller_number"].widget
        number.input_type = "tel"
        number.attrs.update(
            {
                "autofocus": True,
                "autocomplete": "off",
                "hx-get": reverse("incidents:intake_caller"),
                "hx-trigger": "keyup changed delay:400ms, change",
                "hx-target": "#caller-info",
            }
        )
        self.fields["district"].widget.attrs.update(
            {"hx-get": reverse("incidents:intake_villages"), "hx-target": "#id_village", "hx-swap": "innerHTML"}
        )
        self.fields["latitude"].widget.attrs.update({"inputmode": "decimal", "step": "any"})
        self.fields["longitude"].widget.attrs.update({"inputmode": "decimal", "step": "any"})

    def clean_caller_number(self) -> str:
        from .services import normalize_caller_number

        raw = self.cleaned_data.get("caller_number", "")
        number = normalize_caller_number(raw)
        if raw.strip() and not number:
            raise forms.ValidationError(_("Enter a phone number: digits, optionally starting with +."))
        return number

    def clean_started_at(self):
        # The page stamps the time the call was opened; a missing, future or day-old stamp
        # (a page left open overnight) falls back to now.
        try:
            value = parse_datetime(self.cleaned_data.get("started_at") or "")
        except ValueError:
            value = None
        if value is not None and timezone.is_naive(value):
            value = timezone.make_aware(value)
        now = timezone.now()
        if value is None or value > now or value < now - timedelta(hours=12):
            return now
        return value

    def clean(self):
        data = super().clean()
        if self.intent == INTAKE_CREATE:
            if not data.get("category") and "category" not in self.errors:
                self.add_error("category", _("Choose a category to create an incident."))
            if not (data.get("description") or "").strip() and "description" not in self.errors:
                self.add_error("description", _("Describe what happened to create an incident."))
        lat, lon = data.get("latitude"), data.get("longitude")
        if (lat is None) != (lon is None) and "latitude" not in self.errors and "longitude" not in self.errors:
            self.add_error(
                "longitude" if lon is None else "latitude", _("Give both latitude and longitude, or neither.")
            )
        district, village = data.get("district"), data.get("village")
        if district and village and village.district_id != district.pk:
            self.add_error("village", _("This village is not in the chosen district."))
        return data


OPEN_STATUS_CHOICES = [(s.value, s.label) for s in Incident.Status if s in Incident.OPEN_STATUSES]
SLA_FILTER_CHOICES = [("", _("Any")), ("ok", _("On time")), ("warning", _("Warning")), ("breached", _("Breached"))]


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=[("", _("All open"))] + OPEN_STATUS_CHOICES, required=False)
    category = forms.ModelChoiceField(
        label=_("Category"), queryset=Category.objects.none(), required=False, empty_label=_("All")
    )
    district = forms.ModelChoiceField(
        label=_("District"), queryset=District.objects.none(), required=False, empty_label=_("All")
    )
    agency = forms.ModelChoiceField(label=_("Agency"), queryset=None, required=False, empty_label=_("All"))
    sla = forms.ChoiceField(label=_("SLA"), choices=SLA_FILTER_CHOICES, required=False)

    def __init__(self, *args, **kwargs):
        from dispatch.models import Agency

        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = Category.objects.filter(parent__isnull=True)
        self.fields["district"].queryset = District.objects.all()
        self.fields["agency"].queryset = Agency.objects.filter(is_active=True).exclude(kind=Agency.Kind.COMMAND_CENTER)


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class OptionalNoteForm(forms.Form):
    note = forms.CharField(label=_("Note"), max_length=2000, required=False)


class NoteForm(forms.Form):
    note = forms.CharField(
        label=_("Note"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("A note cannot be empty.")},
    )


class MergeForm(forms.Form):
    into = forms.CharField(label=_("Duplicate of (reference number)"), max_length=32)
    note = forms.CharField(label=_("Note"), max_length=2000, required=False)


class ShareForm(forms.Form):
    agency = forms.ModelChoiceField(label=_("Agency"), queryset=None)
    level = forms.ChoiceField(label=_("Level"), choices=())
    # Local time (Asia/Jakarta) from the browser's date-time picker; empty: the longest a share may
    # last (INCIDENT_SHARE_MAX_DAYS, enforced by dispatch.services.incident_share).
    expires_at = forms.DateTimeField(
        label=_("Until (optional)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def __init__(self, *args, **kwargs):
        from dispatch.models import Agency, IncidentShare

        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = Agency.objects.filter(is_active=True).exclude(kind=Agency.Kind.COMMAND_CENTER)
        self.fields["level"].choices = IncidentShare.Level.choices
        days = settings.INCIDENT_SHARE_MAX_DAYS
        self.fields["expires_at"].help_text = ngettext(
            "At most %(days)d day from now; empty: %(days)d day.",
            "At most %(days)d days from now; empty: %(days)d days.",
            days,
        ) % {"days": days}

    def clean_expires_at(self):
        # The service refuses a past expiry too; checking here puts the message on the field.
        value = self.cleaned_data.get("expires_at")
        if value is not None and value <= timezone.now():
            raise forms.ValidationError(_("The expiry must be in the future."))
        return value


class IncidentEditForm(forms.Form):
    """The editable details of an incident (``incidents.services.EDITABLE_FIELDS``).

    ``version`` is the version the page showed: the service refuses the edit if the incident has
    changed since (optimistic locking), so nobody overwrites an edit they have not seen. Without
    ``personal_data`` the caller's name and number are left out (they are masked on the page and
    must not be written back masked).
    """

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    priority = forms.TypedChoiceField(label=_("Priority"), choices=Priority.choices, coerce=int)
    description = forms.CharField(
        label=_("Description"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": _("A description is required.")},
    )
    address, district, village, latitude, longitude = place_fields()
    caller_name = forms.CharField(label=_("Caller name"), max_length=120, required=False)
    caller_number = forms.CharField(label=_("Caller number"), max_length=32, required=False)

    PLACE_FIELDS = ("district", "village")

    def __init__(self, *args, incident: Incident, personal_data: bool, **kwargs):
        from django.urls import reverse

        if not kwargs.get("data") and not args:
            kwargs.setdefault("initial", self.initial_for(incident, personal_data=personal_data))
        kwargs.setdefault("auto_id", "edit-%s")
        super().__init__(*args, **kwargs)
        self.incident = incident
        if not personal_data:
            del self.fields["caller_name"], self.fields["caller_number"]
        self.fields["district"].queryset = District.objects.filter(region_id=incident.region_id)
        villages = Village.objects.filter(district__region_id=incident.region_id).select_related("district")
        district_id = self.data.get("district", "") if self.is_bound else str(incident.district_id or "")
        if district_id.isdigit():
            villages = villages.filter(district_id=int(district_id))
        self.fields["village"].queryset = villages
        self.fields["district"].widget.attrs.update(
            {"hx-get": reverse("incidents:intake_villages"), "hx-target": "#edit-village", "hx-swap": "innerHTML"}
        )
        for name in ("latitude", "longitude"):
            self.fields[name].widget.attrs.update({"inputmode": "decimal", "step": "any"})
        if "caller_number" in self.fields:
            self.fields["caller_number"].widget.input_type = "tel"

    @staticmethod
    def initial_for(incident: Incident, *, personal_data: bool) -> dict:
        initial = {
            "version": incident.version,
            "priority": incident.priority,
            "description": incident.description,
            "address": incident.address,
            "district": incident.district_id,
            "village": incident.village_id,
            "latitude": incident.latitude,
            "longitude": incident.longitude,
        }
        if personal_data:
            initial.update(caller_name=incident.caller_name, caller_number=incident.caller_number)
        return initial

    def clean_caller_number(self) -> str:
        from .services import normalize_caller_number

        raw = self.cleaned_data.get("caller_number", "")
        number = normalize_caller_number(raw)
        if raw.strip() and not number:
            raise forms.ValidationError(_("Enter a phone number: digits, optionally starting with +."))
        return number

    def clean_description(self) -> str:
        # Browsers send textarea line breaks as CRLF; store them as the API and intake do.
        return self.cleaned_data["description"].replace("\r\n", "\n")

    def clean(self):
        data = super().clean()
        lat, lon = data.get("latitude"), data.get("longitude")
        if (lat is None) != (lon is None) and "latitude" not in self.errors and "longitude" not in self.errors:
            self.add_error(
                "longitude" if lon is None else "latitude", _("Give both latitude and longitude, or neither.")
            )
        district, village = data.get("district"), data.get("village")
        if district and village and village.district_id != district.pk:
            self.add_error("village", _("This village is not in the chosen district."))
        elif village and not district and "district" not in self.errors:
            data["district"] = village.district  # a village implies its district
        return data

    def changes(self) -> dict:
        """The edited fields whose value differs from the incident (what the service should write)."""
        data = self.cleaned_data
        changed = {}
        for name in self.fields:
            if name == "version":
                continue
            current = getattr(self.incident, name)
            if current != data[name]:
                changed[name] = data[name]
        return changed


class CategoryChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Category) -> str:
        name = f"{obj.parent.display_name} › {obj.display_name}" if obj.parent_id else obj.display_name
        return f"{name} (P{obj.default_priority})"


class CategoryChangeForm(forms.Form):
    """Re-categorise (re-runs routing and recomputes the SLA deadlines from the time received)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    category = CategoryChoiceField(label=_("New category"), queryset=Category.objects.none())
    note = forms.CharField(label=_("Why (optional)"), max_length=2000, required=False)

    def __init__(self, *args, incident: Incident, **kwargs):
        if not kwargs.get("data") and not args:
            kwargs.setdefault("initial", {"version": incident.version, "category": incident.category_id})
        kwargs.setdefault("auto_id", "category-%s")
        super().__init__(*args, **kwargs)
        self.incident = incident
        self.fields["category"].queryset = Category.objects.filter(is_active=True).select_related("parent")

    def clean_category(self):
        category = self.cleaned_data["category"]
        if category.pk == self.incident.category_id:
            raise forms.ValidationError(_("This is already the incident's category."))
        return category
