"""Forms of the rewards back office. They only collect input; `rewards.services` applies the rules."""

from django import forms
from django.contrib.admin.widgets import AutocompleteSelect
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from members.models import Member
from rewards.models import CouponTemplate, Redemption, Reward


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


class MemberNoField(forms.CharField):
    """A member typed by number (as on the card or the till), looked up when cleaned."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("member number"))
        kwargs.setdefault("max_length", 20)
        super().__init__(**kwargs)

    def clean(self, value):
        from members.models import Member

        number = super().clean(value).strip().upper()
        member = Member.objects.filter(member_no=number).first()
        if member is None:
            raise forms.ValidationError(_("No member has the number “%(number)s”."), params={"number": number})
        return member


class SellMembershipForm(forms.Form):
    """Selling a paid plan at the counter; `buy_membership` applies the rules (renewal, idempotency)."""

    member = MemberNoField()
    plan = forms.ModelChoiceField(label=_("plan"), queryset=None, empty_label=None)
    external_ref = forms.CharField(
        label=_("external reference"),
        max_length=64,
        help_text=_("The till's receipt or order number; selling twice with it sells once."),
    )
    starts_on = forms.DateField(
        label=_("starts on"),
        required=False,
        help_text=_("Today when empty. A renewal starts the day after the current membership ends."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args, **kwargs):
        from rewards.models import MembershipPlan

        super().__init__(*args, **kwargs)
        self.fields["plan"].queryset = MembershipPlan.objects.filter(is_active=True).order_by("price", "id")


class AwardBonusForm(forms.Form):
    """A manager awarding an activity bonus by hand; `award_bonus` keeps the once-per-period limit."""

    member = MemberNoField()
    kind = forms.ChoiceField(label=_("activity"))
    reference = forms.CharField(
        label=_("reference"),
        max_length=64,
        required=False,
        help_text=_("What it is for (survey, review, event, referred member's number); required for referrals."),
    )

    def __init__(self, *args, **kwargs):
        from rewards.models import ActivityBonus

        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = ActivityBonus.Kind.choices


class PromotionAdminForm(forms.ModelForm):
    """Channels are stored as a list; staff tick them."""

    channels = forms.MultipleChoiceField(
        label=_("channels"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None chosen: every channel."),
    )

    def __init__(self, *args, **kwargs):
        from members.models import SalesChannel

        super().__init__(*args, **kwargs)
        self.fields["channels"].choices = SalesChannel.choices


class RedeemRewardForm(forms.Form):
    """The counter's "Redeem a reward" page; `rewards.services.redeem_reward` applies every rule.

    `idempotency_key` is drawn when the page is shown, so a double click or a resent form redeems once.
    """

    member = forms.ModelChoiceField(label=_("member"), queryset=None)
    reward = forms.ModelChoiceField(label=_("reward"), queryset=None, empty_label=None)
    quantity = forms.IntegerField(label=_("quantity"), min_value=1, max_value=100, initial=1)
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, admin_site=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["member"].queryset = Member.objects.not_erased()
        now = timezone.now()
        self.fields["reward"].queryset = (
            Reward.objects.filter(is_active=True)
            .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=now))
            .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
            .order_by("points_cost", "name", "id")
        )
        self.fields["reward"].label_from_instance = reward_label
        if admin_site is not None:
            field = self.fields["member"]
            field.widget = AutocompleteSelect(Redemption._meta.get_field("member"), admin_site)
            field.widget.choices = field.choices
            field.widget.is_required = True


def reward_label(reward) -> str:
    if reward.stock is None:
        return gettext("%(name)s — %(points)d points") % {"name": reward.name, "points": reward.points_cost}
    return gettext("%(name)s — %(points)d points (%(stock)d left)") % {
        "name": reward.name,
        "points": reward.points_cost,
        "stock": reward.stock,
    }


class IssueCouponForm(forms.Form):
    """Staff issue a coupon to one member by hand: which coupon, and why (kept on the coupon)."""

    template = forms.ModelChoiceField(
        label=_("Coupon"), queryset=CouponTemplate.objects.filter(is_active=True).order_by("name")
    )
    reason = forms.CharField(label=_("Reason"), max_length=200, help_text=_("e.g. an apology for a late delivery"))
