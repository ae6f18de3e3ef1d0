"""The member centre's "我的纪念日" page (/m/dates/): the member's important dates (anniversary, a
partner's birthday, a date of their own), added and removed through `members.services` (the same
rules and consent as staff and the API). A fixed number of queries, whatever the member holds."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.dates import MONTHS
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from loyalty_crm.centre.session import member_required
from loyalty_crm.errors import DomainError
from members import selectors, services
from members.forms import add_service_errors
from members.models import ConsentSource, ConsentTopic, ImportantDate


class ImportantDateForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("What date is it?"), choices=ImportantDate.Kind.choices)
    label = forms.CharField(
        label=gettext_lazy("Name of the date"),
        required=False,
        max_length=60,
        help_text=gettext_lazy("For another date, e.g. Mum's birthday"),
    )
    month = forms.TypedChoiceField(label=gettext_lazy("Month"), coerce=int, choices=sorted(MONTHS.items()))
    day = forms.TypedChoiceField(label=gettext_lazy("Day"), coerce=int, choices=[(d, d) for d in range(1, 32)])
    year = forms.IntegerField(label=gettext_lazy("Year (optional)"), required=False, min_value=1900, max_value=9999)
    consent = forms.BooleanField(
        label=gettext_lazy("You may use my dates to send me greetings and offers (data processing)"),
        required=False,
    )


def _consented(member) -> bool:
    return member.consents.filter(topic=ConsentTopic.DATA_PROCESSING, granted=True).exists()


@never_cache
@member_required
@require_http_methods(["GET", "POST"])
def dates(request):
    member = request.member
    consented = _consented(member)
    form = ImportantDateForm(request.POST or None, initial={"kind": ImportantDate.Kind.ANNIVERSARY})
    if consented:
        del form.fields["consent"]
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.add_important_date(
                member=member,
                kind=data["kind"],
                label=data.get("label") or "",
                month=data["month"],
                day=data["day"],
                year=data.get("year"),
                consent=bool(data.get("consent")),
                source=ConsentSource.MEMBER_CENTRE,
            )
        except (ValidationError, DomainError) as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("Your date has been saved. We will remember it."))
            return redirect("centre:dates")
    context = {
        "tab": "profile",
        "form": form,
        "dates": selectors.important_dates_of(member),
        "consented": consented,
    }
    return render(request, "centre/dates.html", context, status=400 if form.errors else 200)


@never_cache
@member_required
@require_POST
def date_delete(request, pk: int):
    found = ImportantDate.objects.filter(pk=pk, member=request.member).first()
    if found is None:
        raise Http404
    services.delete_important_date(important_date=found)
    messages.success(request, _("The date has been removed."))
    return redirect("centre:dates")
