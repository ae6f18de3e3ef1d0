"""Forms of the rewards back office. They only collect input; `rewards.services` applies the rules."""

from django import forms
from django.utils.translation import gettext_lazy as _


class AdjustPointsForm(forms.Form):
    """A manager's manual adjustment: `adjust_points` checks it again and records it on the ledger."""

    points = forms.IntegerField(
        label=_("points"),
        help_text=_("Positive to add points (a new lot), negative to remove them (oldest lots first)."),
    )
    reason = forms.CharField(
        label=_("reason"),
        max_length=200,
        help_text=_("Recorded on the ledger with your name; the member may ask about it."),
        widget=forms.TextInput(attrs={"size": 60}),
    )

    def clean_points(self):
        points = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError(_("Enter a whole number of points other than 0."), code="zero")
        return points
