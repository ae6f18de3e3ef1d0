"""The member centre's "我的" pages: profile, preferences, consents and privacy rights (/m/profile/).

Every change goes through `members.services` (`update_member` with the history reason
`MEMBER_CENTRE_REASON`, `set_preferences`, `set_consents` with source "member centre", the closure
request services), so the change history, the consent history and the rules are the admin's and
the API's too. Each page reads only `request.member`'s rows, in a fixed number of queries.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from loyalty_crm.errors import DomainError
from members import services
from members.centre import profile_data
from members.centre.session import member_required
from members.forms import add_service_errors
from members.models import ConsentSource, Member, Preference
from members.services.closure import MAX_REASON_LENGTH

# --- profile ---------------------------------------------------------------------------------


class ProfileForm(forms.Form):
    name = forms.CharField(label=pgettext_lazy("person", "Name"), max_length=100)
    email = forms.EmailField(label=gettext_lazy("Email"), required=False, max_length=254)
    gender = forms.ChoiceField(label=gettext_lazy("Gender"), choices=Member.Gender.choices)
    birthday = forms.DateField(
        label=gettext_lazy("Birthday"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, member: Member, **kwargs):
        super().__init__(*args, **kwargs)
        if member.birthday:
            # Set once by the member; after that only staff change it.
            del self.fields["birthday"]


@never_cache
@member_required
@require_http_methods(["GET", "POST"])
def profile(request):
    member = request.member
    initial = {"name": member.name, "email": member.email or "", "gender": member.gender}
    form = ProfileForm(request.POST or None, member=member, initial=initial)
    if request.method == "POST" and form.is_valid():
        changes = {key: value for key, value in form.cleaned_data.items() if key != "birthday" or value}
        try:
            services.update_member(member=member, change_reason=services.MEMBER_CENTRE_REASON, **changes)
        except (ValidationError, DomainError) as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Your profile has been saved."))
            return redirect("centre:profile")
    context = {"tab": "profile", "form": form, "member": member}
    return render(request, "centre/profile.html", context, status=400 if form.errors else 200)


# --- preferences -----------------------------------------------------------------------------

# The contact times and channels a member picks from: the stored value is the same in every language
# (the shop's own words, as staff and the demo data write them), the label is the member's language.
CONTACT_TIMES = [
    ("工作日晚上", gettext_lazy("Weekday evenings")),
    ("工作日午休", gettext_lazy("Weekday lunchtime")),
    ("周末上午", gettext_lazy("Weekend mornings")),
    ("周末下午", gettext_lazy("Weekend afternoons")),
    ("任何时间", gettext_lazy("Any time")),
]
PREFERRED_CHANNELS = [
    ("微信", pgettext_lazy("contact channel", "WeChat")),
    ("短信", pgettext_lazy("contact channel", "SMS")),
    ("电话", pgettext_lazy("contact channel", "Phone call")),
    ("邮件", pgettext_lazy("contact channel", "Email")),
]
LIST_SEPARATORS = [",", "，", "、", ";", "；"]


def split_values(text: str) -> list[str]:
    """ "红色，粉色、white" → ["红色", "粉色", "white"]."""
    for separator in LIST_SEPARATORS[1:]:
        text = text.replace(separator, LIST_SEPARATORS[0])
    return [value.strip() for value in text.split(LIST_SEPARATORS[0]) if value.strip()]


def _choices_with(current: str, options) -> list[tuple[str, str]]:
    choices = [("", "—"), *options]
    if current and current not in dict(options):
        choices.append((current, current))  # a value staff typed stays selectable
    return choices


class PreferencesForm(forms.Form):
    categories = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Favourite flowers and categories"),
        queryset=profile_data.preference_categories(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    colours = forms.CharField(
        label=gettext_lazy("Favourite colours"),
        required=False,
        max_length=400,
        help_text=gettext_lazy("Separate several with commas, e.g. red, white"),
    )
    styles = forms.CharField(
        label=gettext_lazy("Styles you like"),
        required=False,
        max_length=400,
        help_text=gettext_lazy("e.g. minimalist, French"),
    )
    channel = forms.ChoiceField(label=gettext_lazy("How we should contact you"), required=False)
    contact_time = forms.ChoiceField(label=gettext_lazy("When suits you best"), required=False)

    def __init__(self, *args, current: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["categories"].queryset = profile_data.preference_categories()
        self.fields["channel"].choices = _choices_with(current.get("channel", ""), PREFERRED_CHANNELS)
        self.fields["contact_time"].choices = _choices_with(current.get("contact_time", ""), CONTACT_TIMES)


@never_cache
@member_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    member = request.member
    current = profile_data.preferences_of(member)
    initial = {
        "categories": current["categories"],
        "colours": "，".join(current["colours"]),
        "styles": "，".join(current["styles"]),
        "channel": current["channel"],
        "contact_time": current["contact_time"],
    }
    form = PreferencesForm(request.POST or None, initial=initial, current=current)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        kinds = Preference.Kind
        try:
            services.set_preferences(member=member, kind=kinds.FAVOURITE_CATEGORY, categories=data["categories"])
            services.set_preferences(member=member, kind=kinds.COLOUR, values=split_values(data["colours"]))
            services.set_preferences(member=member, kind=kinds.STYLE, values=split_values(data["styles"]))
            services.set_preferences(member=member, kind=kinds.PREFERRED_CHANNEL, values=[data["channel"]])
            services.set_preferences(member=member, kind=kinds.CONTACT_TIME, values=[data["contact_time"]])
        except (ValidationError, DomainError) as error:
            add_service_errors(form, error, aliases={"value": None, "kind": None})
        else:
            messages.success(request, _("Your preferences have been saved."))
            return redirect("centre:preferences")
    context = {"tab": "profile", "form": form}
    return render(request, "centre/preferences.html", context, status=400 if form.errors else 200)


# --- consents --------------------------------------------------------------------------------


@never_cache
@member_required
@require_http_methods(["GET", "POST"])
def consents(request):
    member = request.member
    if request.method == "POST":
        topic = request.POST.get("topic", "")
        granted = request.POST.get("granted", "")
        if topic not in profile_data.MARKETING_TOPICS or granted not in ("0", "1"):
            messages.error(request, _("That choice is not one of the channels shown; nothing was changed."))
            return redirect("centre:consents")
        services.set_consents(
            member=member,
            consents={topic: granted == "1"},
            source=ConsentSource.MEMBER_CENTRE,
        )
        if granted == "1":
            messages.success(request, _("Thank you: you will hear from us on this channel."))
        else:
            messages.success(request, _("Withdrawn: from now on we send you no marketing on this channel."))
        return redirect("centre:consents")
    context = {
        "tab": "profile",
        "channels": profile_data.consent_channels(member),
        "history": profile_data.consent_history(member),
    }
    return render(request, "centre/consents.html", context)


# --- privacy ---------------------------------------------------------------------------------


class ClosureForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why are you leaving? (optional)"),
        required=False,
        max_length=MAX_REASON_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


@never_cache
@member_required
def privacy(request):
    member = request.member
    context = {
        "tab": "profile",
        "closure": profile_data.latest_closure_request(member),
        "form": ClosureForm(),
    }
    return render(request, "centre/privacy.html", context)


def export_response(member: Member) -> HttpResponse:
    """The member's data (the existing export) as a JSON download, recorded on their profile."""
    data = profile_data.export_for_member(member)
    response = HttpResponse(
        json.dumps(data, ensure_ascii=False, indent=2) + "\n", content_type="application/json; charset=utf-8"
    )
    stamp = timezone.localtime().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="my-data-{member.member_no}-{stamp}.json"'
    response["Cache-Control"] = "private, no-store"
    return response


@never_cache
@member_required
@require_POST
def privacy_export(request):
    return export_response(request.member)


@never_cache
@member_required
@require_POST
def closure_request(request):
    form = ClosureForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The reason is too long; please shorten it."))
        return redirect("centre:privacy")
    try:
        services.request_account_closure(member=request.member, reason=form.cleaned_data["reason"])
    except DomainError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, _("We have received your request to close your account."))
    return redirect("centre:privacy")


@never_cache
@member_required
@require_POST
def closure_withdraw(request):
    open_request = services.open_closure_request(request.member)
    if open_request is None:
        messages.error(request, _("You have no open request to withdraw."))
        return redirect("centre:privacy")
    try:
        services.withdraw_account_closure(member=request.member, request=open_request)
    except DomainError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, _("Your request has been withdrawn; your account stays open."))
    return redirect("centre:privacy")
