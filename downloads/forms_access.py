"""Forms for the data-access page."""

from __future__ import annotations

from datetime import UTC, datetime, time

from django import forms
from django.contrib.auth import get_user_model

from apitokens.models import Scope
from archiveportal import clock
from queries.models import Project


class GrantForm(forms.Form):
    delegate = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(), label="Member", to_field_name="username"
    )
    project = forms.ModelChoiceField(
        queryset=Project.objects.none(),
        required=False,
        empty_label="All my projects (now and later)",
        to_field_name="code",
    )
    expires_on = forms.DateField(
        required=False,
        label="Until (optional)",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Access ends at the start of this day (UTC).",
    )

    def __init__(self, *args, pi, projects, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["delegate"].queryset = (
            get_user_model().objects.filter(is_active=True).exclude(pk=pi.pk).order_by("username")
        )
        self.fields["project"].queryset = projects

    def expires_at(self) -> datetime | None:
        day = self.cleaned_data.get("expires_on")
        return datetime.combine(day, time(0), tzinfo=UTC) if day else None


class TokenForm(forms.Form):
    """A new personal API token: what it may do, and (optionally) until when."""

    name = forms.CharField(
        max_length=100, required=False, label="Name (optional)", help_text="e.g. 'cluster'"
    )
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[Scope.READ, Scope.DOWNLOAD],
        label="It may",
    )
    expires_on = forms.DateField(
        required=False,
        label="Until (optional)",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The token stops working at the start of this day (UTC).",
    )

    def clean_expires_on(self):
        day = self.cleaned_data.get("expires_on")
        if day and datetime.combine(day, time(0), tzinfo=UTC) <= clock.now():
            raise forms.ValidationError("The end date must be in the future.")
        return day

    def expires_at(self) -> datetime | None:
        day = self.cleaned_data.get("expires_on")
        return datetime.combine(day, time(0), tzinfo=UTC) if day else None
