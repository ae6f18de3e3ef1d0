"""Admin of member events: the events (saved through `campaigns.services.events`), their sign-ups,
the door's check-in page (/admin/events/<id>/check-in/), the results page and "invite a segment"."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.models import CampaignChannel, Classification, Event, EventRegistration, Segment
from campaigns.selectors import events as event_selectors
from campaigns.services import events as event_services
from loyalty_crm.admin_base import ReadOnlyAdmin
from loyalty_crm.errors import DomainError

CHECK_IN = "campaigns.checkin_event"


class EventForm(forms.ModelForm):
    audience_classifications = forms.MultipleChoiceField(
        label=gettext_lazy("classifications"),
        choices=Classification.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Members of these classes."),
    )

    class Meta:
        model = Event
        fields = [
            "title", "kind", "description", "image", "store", "address", "starts_at", "ends_at", "capacity", "price",
            "points_cost", "audience_tiers", "audience_classifications", "audience_segment", "audience_plan_holders",
            "signup_opens_at", "signup_closes_at", "cancellation_deadline",
        ]  # fmt: skip
        widgets = {"audience_tiers": forms.CheckboxSelectMultiple}

    def clean(self):
        """The service's own checks, shown on the fields (the service checks again when saving)."""
        cleaned = super().clean()
        values = {name: cleaned.get(name) for name in event_services.EVENT_FIELDS if name in self.fields}
        values["audience_classifications"] = list(values.get("audience_classifications") or [])
        try:
            event_services.validate_event(values)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                if field in self.fields and field not in self.errors:
                    self.add_error(field, errors)
                elif field not in self.fields:
                    self.add_error(None, errors)
        return cleaned


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    form = EventForm
    list_display = ["title", "kind", "starts_at", "store", "capacity", "confirmed", "waitlisted", "links"]
    list_filter = ["kind", "status", "store"]
    search_fields = ["title"]
    date_hierarchy = "starts_at"
    list_select_related = ["store"]
    fieldsets = [
        (None, {"fields": ["title", "kind", "description", "image", "store", "address"]}),
        (gettext_lazy("When and how many"), {"fields": ["starts_at", "ends_at", "capacity", "price", "points_cost"]}),
        (
            gettext_lazy("Who may come"),
            {
                "fields": ["audience_tiers", "audience_classifications", "audience_segment", "audience_plan_holders"],
                "description": gettext_lazy("A member matching any of these may come; leave all empty for everyone."),
            },
        ),
        (gettext_lazy("Sign-up window"), {"fields": ["signup_opens_at", "signup_closes_at", "cancellation_deadline"]}),
    ]

    def get_queryset(self, request):
        return event_selectors.with_counts(super().get_queryset(request))

    @admin.display(description=gettext_lazy("confirmed"), ordering="confirmed")
    def confirmed(self, event):
        return event.confirmed

    @admin.display(description=gettext_lazy("waitlisted"), ordering="waitlisted")
    def waitlisted(self, event):
        return event.waitlisted

    @admin.display(description=gettext_lazy("pages"))
    def links(self, event):
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a> · <a href="{}">{}</a>',
            reverse("admin:event_check_in", args=[event.pk]),
            _("Check-in"),
            reverse("admin:event_results", args=[event.pk]),
            _("Results"),
            reverse("admin:event_invite", args=[event.pk]),
            _("Invite"),
        )

    def save_model(self, request, obj, form, change):
        values = {
            name: form.cleaned_data.get(name) for name in event_services.EVENT_FIELDS if name in form.cleaned_data
        }
        values["audience_classifications"] = list(values.get("audience_classifications") or [])
        tiers = list(form.cleaned_data.get("audience_tiers") or [])
        try:
            if change:
                saved = event_services.update_event(event=obj, actor=request.user, tiers=tiers, **values)
            else:
                saved = event_services.create_event(actor=request.user, tiers=tiers, **values)
        except ValidationError as exc:
            raise ValidationError(exc.messages) from exc
        obj.pk = saved.pk

    def save_related(self, request, form, formsets, change):
        """The audience's tiers were set by the service."""


@admin.register(EventRegistration)
class EventRegistrationAdmin(ReadOnlyAdmin):
    list_display = ["event", "member", "status", "source", "points_spent", "attended_at", "paid_at", "created_at"]
    list_filter = ["status", "source"]
    list_select_related = ["event", "member"]
    search_fields = ["member__member_no", "event__title"]
    raw_id_fields = ["event", "member"]
    actions = ["cancel_selected", "record_payment"]

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("campaigns.add_eventregistration")

    @admin.action(description=gettext_lazy("Cancel the selected sign-ups (points back, waitlist moves up)"))
    def cancel_selected(self, request, queryset):
        done = 0
        for registration in queryset.order_by("pk"):
            try:
                event_services.cancel_registration(registration=registration, actor=request.user)
                done += 1
            except DomainError as exc:
                messages.error(request, f"{registration}: {exc}")
        messages.success(request, _("%(n)d sign-ups cancelled.") % {"n": done})

    @admin.action(description=gettext_lazy("Record the price as paid"))
    def record_payment(self, request, queryset):
        for registration in queryset.order_by("pk"):
            event_services.record_payment(registration=registration, actor=request.user)
        messages.success(request, _("Payment recorded."))


# --- the door, the results and the invitation ------------------------------------------------------


def _event_or_403(request, event_id: int, perm: str) -> Event:
    if not request.user.has_perm(perm):
        raise PermissionDenied
    return get_object_or_404(event_selectors.event_list(), pk=event_id)


CHECK_IN_TEXT = {
    "checked_in": gettext_lazy("Checked in: %(name)s"),
    "already_checked_in": gettext_lazy("Already checked in: %(name)s"),
    "waitlisted": gettext_lazy("%(name)s is on the waitlist, not confirmed"),
    "not_registered": gettext_lazy("Not registered: %(name)s"),
    "unknown_member": gettext_lazy("No member has this card or phone"),
}


def check_in_view(request, event_id: int):
    """The door: scan the member card (its QR or barcode holds the member number) or type a phone."""
    event = _event_or_403(request, event_id, CHECK_IN)
    result = None
    text = ""
    if request.method == "POST":
        code = (request.POST.get("code") or "").strip()[:64]
        if request.POST.get("action") == "sign_up" and request.user.has_perm("campaigns.add_eventregistration"):
            member = event_selectors.find_member_by_code(code)
            if member is None:
                messages.error(request, CHECK_IN_TEXT["unknown_member"])
            else:
                try:
                    signed = event_services.register_member(
                        event=event, member=member, idempotency_key=f"staff-{uuid.uuid4().hex}", actor=request.user
                    )
                    status = signed.registration.get_status_display()
                    messages.success(request, _("%(name)s: %(status)s") % {"name": member.name, "status": status})
                except DomainError as exc:
                    messages.error(request, str(exc))
            return redirect("admin:event_check_in", event_id=event.pk)
        if code:
            result = event_services.check_in(event=event, code=code, actor=request.user)
            name = result.member.name if result.member else ""
            text = str(CHECK_IN_TEXT[result.outcome]) % {"name": name}
        event = get_object_or_404(event_selectors.event_list(), pk=event.pk)
    context = {
        **admin.site.each_context(request),
        "title": _("Check-in: %(title)s") % {"title": event.title},
        "event": event,
        "result": result,
        "result_text": text,
        "can_sign_up": request.user.has_perm("campaigns.add_eventregistration"),
    }
    return render(request, "admin/campaigns/event/check_in.html", context, status=200)


def results_view(request, event_id: int):
    event = _event_or_403(request, event_id, "campaigns.view_event")
    context = {
        **admin.site.each_context(request),
        "title": _("Results: %(title)s") % {"title": event.title},
        "event": event,
        "results": event_selectors.event_results(event),
    }
    return render(request, "admin/campaigns/event/results.html", context)


class InviteForm(forms.Form):
    segment = forms.ModelChoiceField(
        label=gettext_lazy("segment"),
        queryset=Segment.objects.order_by("name"),
        required=False,
        empty_label=gettext_lazy("Every member"),
    )
    channel = forms.ChoiceField(
        label=gettext_lazy("channel"), choices=[c for c in CampaignChannel.choices if c[0] != "wechat"]
    )
    body = forms.CharField(
        label=gettext_lazy("message"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text=gettext_lazy("Leave empty for the default invitation; it must carry {{ event_link }}."),
    )


def invite_view(request, event_id: int):
    """ "Invite a segment to this event": a draft campaign with each member's signed sign-up link."""
    event = _event_or_403(request, event_id, "campaigns.add_eventinvitation")
    if not request.user.has_perm("campaigns.add_campaign"):
        raise PermissionDenied
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = event_services.invite_segment(
                event=event,
                segment=form.cleaned_data["segment"],
                channel=form.cleaned_data["channel"],
                body=form.cleaned_data["body"],
                actor=request.user,
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("The invitation campaign was created as a draft: check it and launch it."))
            return redirect("admin:campaigns_campaign_change", campaign.pk)
    context = {
        **admin.site.each_context(request),
        "title": _("Invite to %(title)s") % {"title": event.title},
        "event": event,
        "form": form,
    }
    return render(request, "admin/campaigns/event/invite.html", context)


def urls_for(site) -> list:
    wrap = site.admin_view
    return [
        path("events/<int:event_id>/check-in/", wrap(check_in_view), name="event_check_in"),
        path("events/<int:event_id>/results/", wrap(results_view), name="event_results"),
        path("events/<int:event_id>/invite/", wrap(invite_view), name="event_invite"),
    ]
