"""Forms for the data-access page."""

from __future__ import annotations

from datetime import UTC, datetime, time

from django import forms
from django.contrib.auth import get_user_model

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
