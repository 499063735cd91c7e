"""Forms of the dispatch board and the agency inbox."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Agency, FieldUnit, Volunteer


class DispatchForm(forms.Form):
    agencies = forms.ModelMultipleChoiceField(
        label=_("Agencies"),
        queryset=Agency.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one agency.")},
    )
    note = forms.CharField(label=_("Instructions for the agencies"), max_length=2000, required=False)
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agencies"].queryset = Agency.objects.filter(is_active=True).exclude(
            kind=Agency.Kind.COMMAND_CENTER
        )


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for declining"),
        max_length=2000,
        error_messages={"required": _("Give a reason for declining.")},
    )


class AssignResourceForm(forms.Form):
    """Put one of the agency's units (or a volunteer of the community) on the assignment."""

    unit = forms.ModelChoiceField(label=_("Unit"), queryset=FieldUnit.objects.none(), required=False)
    volunteer = forms.ModelChoiceField(label=_("Volunteer"), queryset=Volunteer.objects.none(), required=False)

    def __init__(self, *args, agency: Agency, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = FieldUnit.objects.filter(agency=agency).exclude(status=FieldUnit.Status.OFF_DUTY)
        self.fields["volunteer"].queryset = Volunteer.objects.filter(community=agency)

    def clean(self):
        data = super().clean()
        if not data.get("unit") and not data.get("volunteer") and not self.errors:
            raise forms.ValidationError(_("Choose a unit or a volunteer."))
        return data
