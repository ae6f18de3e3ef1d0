"""Support's back office for tickets. Every change goes through `feedback.services`.

The change form's editable fields (kind, priority, assignee, team) and its extra fields (new
status, reply, internal note) are applied by one `services.work_ticket` call while the form
validates, so a refused transition or a reply no channel can deliver shows next to its field and
nothing is half-written (`members.admin.ServiceFormAdminMixin`). The reply is sent after the
page's transaction commits; the history shows each reply's delivery, a failed one in red with its
reason and "Retry sending". "Record a call" (a button on the ticket page) records a phone call.
"""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from feedback import delivery, services, sla
from feedback.admin_surveys import TicketTopicInline
from feedback.models import (
    Attachment,
    BusinessCalendar,
    KpiTarget,
    PriorityRule,
    ReplyDelivery,
    ServiceKpi,
    SlaTarget,
    SurveyResponse,
    Team,
    Ticket,
    TicketEvent,
    reason_display,
)
from loyalty_crm.admin_base import ReadOnlyAdmin
from loyalty_crm.netaddr import client_ip
from members.admin import ServiceFormAdminMixin
from members.forms import ServiceFormMixin, add_service_errors

LOCAL_DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


class TicketAddForm(ServiceFormMixin, forms.ModelForm):
    """Staff record feedback taken by phone, on WeChat or at the counter — often after the call:
    when the customer reached us and when they were answered, so the service level measures the
    customer's wait (a call answered within three rings is met, not breached)."""

    contacted_at = forms.DateTimeField(
        label=_("customer contacted us at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=LOCAL_DATETIME_FORMATS,
        help_text=_("When the call or chat came in. Empty: now."),
    )
    answered = forms.ChoiceField(
        label=_("answered"),
        required=False,
        choices=[("", "—"), *sla.ANSWER_CHOICES],
        help_text=_("Required for phone and WeChat: how soon the customer was answered."),
    )
    answered_at = forms.DateTimeField(
        label=_("customer answered at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=LOCAL_DATETIME_FORMATS,
        help_text=_("Only with “at the time given”."),
    )
    phone = forms.CharField(label=_("phone"), required=False)
    email = forms.CharField(label=_("email"), required=False)
    contact_name = forms.CharField(label=_("contact name"), required=False)
    member_no = forms.CharField(label=_("member number"), required=False)

    FIELDS = [
        "kind", "channel", "contacted_at", "answered", "answered_at", "message", "contact_name", "phone", "email",
        "member_no", "order_ref", "store",
    ]  # fmt: skip

    class Meta:
        model = Ticket
        fields = ["kind", "channel", "message", "contact_name", "phone", "email", "member_no", "order_ref", "store"]

    def clean(self):
        data = super().clean()
        answered, channel = data.get("answered") or "", data.get("channel")
        if not answered and channel in sla.ANSWER_REQUIRED_CHANNELS:
            self.add_error("answered", _("Say how soon the customer was answered, or that they were not answered yet."))
        if answered == sla.ANSWERED_AT and data.get("answered_at") is None:
            self.add_error("answered_at", _("Give the time the customer was answered."))
        return data

    def _first_response_at(self, data):
        answered = data.get("answered") or ""
        if answered == sla.ANSWERED_AT:
            return data.get("answered_at")
        within = sla.ANSWERED_WITHIN.get(answered)
        if within is None:
            return None
        return (data.get("contacted_at") or timezone.now()) + within

    def save_through_service(self, data):
        return services.submit_feedback(
            contacted_at=data.get("contacted_at"),
            first_response_at=self._first_response_at(data),
            kind=data["kind"],
            channel=data["channel"],
            message=data["message"],
            contact_name=data.get("contact_name", ""),
            phone=data.get("phone", ""),
            email=data.get("email", ""),
            member_no=data.get("member_no", ""),
            purchase_ref=data.get("order_ref", ""),
            store=data.get("store"),
            actor=self.actor,
        )

    def _post_clean(self):
        if self._errors:
            return
        try:
            saved = self.save_through_service(self.cleaned_data)
        except Exception as error:  # ValidationError or DomainError
            from django.core.exceptions import ValidationError

            from loyalty_crm.errors import DomainError

            if not isinstance(error, ValidationError | DomainError):
                raise
            add_service_errors(self, error, aliases={"purchase_ref": "order_ref"})
        else:
            self.instance = saved


class TicketChangeForm(forms.ModelForm):
    new_status = forms.ChoiceField(label=_("new status"), required=False)
    reply = forms.CharField(
        label=_("reply to the customer"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Recorded, then sent by email, WeChat or SMS (in that order, whichever the ticket allows)."),
    )
    record_only = forms.BooleanField(
        label=_("record the reply without sending it"),
        required=False,
        help_text=_("Nothing can deliver it; it does not count as a first response (record a call for that)."),
    )
    internal_note = forms.CharField(
        label=_("internal note"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Seen by staff only."),
    )

    saved_by_service = True
    actor = None

    class Meta:
        model = Ticket
        fields = ["kind", "priority", "assignee", "team"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(s, Ticket.Status(s).label) for s in services.allowed_transitions(self.instance.status)]
        keep = ("", _("— keep “%(status)s” —") % {"status": self.instance.get_status_display()})
        self.fields["new_status"].choices = [keep, *choices]
        if "assignee" in self.fields:
            self.fields["assignee"].queryset = get_user_model().objects.filter(is_active=True, is_staff=True)
        if "reply" in self.fields and self.instance.pk:
            self.fields["reply"].help_text = delivery.describe_destination(self.instance)[1]

    def _post_clean(self):
        if self._errors:
            return
        from django.core.exceptions import ValidationError

        from loyalty_crm.errors import DomainError

        data = self.cleaned_data
        changes = {f: data[f] for f in ("kind", "priority", "assignee", "team") if f in data and f in self.changed_data}
        try:
            saved = services.work_ticket(
                ticket=self.instance,
                actor=self.actor,
                **changes,
                status=data.get("new_status") or services.UNSET,
                reply=data.get("reply", ""),
                internal_note=data.get("internal_note", ""),
                record_only=bool(data.get("record_only")),
            )
        except services.InvalidTransition as error:
            self.add_error("new_status", error.detail)
        except services.NoChannel as error:
            self.add_error("reply", error.detail)
        except (ValidationError, DomainError) as error:
            add_service_errors(self, error)
        else:
            self.instance = saved

    def save(self, commit=True):
        return self.instance


class RecordCallForm(forms.Form):
    """Staff called the customer: when, and what was said (briefly)."""

    called_at = forms.DateTimeField(
        label=_("time of the call"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
    )
    note = forms.CharField(
        label=_("note"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What was said, in a sentence or two. Seen by staff only."),
    )


class QueueFilter(admin.SimpleListFilter):
    """The queue support opens on: open tickets (not resolved or closed) unless another is chosen;
    "All tickets" is one click away."""

    title = _("queue")
    parameter_name = "queue"
    DEFAULT = "active"

    def lookups(self, request, model_admin):
        return [
            ("active", _("Open tickets")),
            ("mine", _("My tickets")),
            ("unassigned", _("Unassigned")),
            ("about_to_breach", _("About to breach")),
            ("breached", _("Breached")),
            ("all", _("All tickets")),
        ]

    def value(self):
        return super().value() or self.DEFAULT

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == str(lookup),
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        if self.value() == "about_to_breach":
            return queryset.about_to_breach(timezone.now())
        if self.value() == "breached":
            return queryset.breached(timezone.now())
        if self.value() == "mine":
            return queryset.assigned_to(request.user).not_done()
        if self.value() == "unassigned":
            return queryset.unassigned().not_done()
        if self.value() == "active":
            return queryset.not_done()
        return queryset


class AgeFilter(admin.SimpleListFilter):
    title = _("age")
    parameter_name = "age"
    AGES = {"1d": 1, "3d": 3, "7d": 7, "30d": 30}

    def lookups(self, request, model_admin):
        return [
            ("today", _("Less than a day")),
            ("1d", _("Older than 1 day")),
            ("3d", _("Older than 3 days")),
            ("7d", _("Older than a week")),
            ("30d", _("Older than 30 days")),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "today":
            return queryset.filter(created_at__gt=now - datetime.timedelta(days=1))
        if self.value() in self.AGES:
            return queryset.filter(created_at__lte=now - datetime.timedelta(days=self.AGES[self.value()]))
        return queryset


class AssignChoiceForm(forms.Form):
    """Whom the bulk actions assign the selected tickets to."""

    assign_user = forms.ModelChoiceField(
        label=_("user"),
        queryset=get_user_model().objects.filter(is_active=True, is_staff=True).order_by("username"),
        required=False,
        empty_label=_("— nobody —"),
    )
    assign_team = forms.ModelChoiceField(
        label=_("team"), queryset=Team.objects.order_by("name"), required=False, empty_label=_("— no team —")
    )


class TicketActionForm(ActionForm, AssignChoiceForm):
    """The changelist's action bar, with the user and team choices of the bulk actions."""


BADGE_COLOURS = {
    sla.State.BREACHED: "#b42318",
    sla.State.WARNING: "#b54708",
    sla.State.OK: "#067647",
    sla.State.MET: "#067647",
}


def breach_badge(ticket: Ticket, now: datetime.datetime):
    """A coloured "time to breach" (`feedback.sla.sla_status`, the one definition): green, amber
    within the warning window, red once a target is missed — "Overdue 1 h 1 min" (已超时 1小时1分)
    from the due instant on."""
    left = sla.time_to_breach(ticket, now)
    if left is None:
        return "—"
    due, _warn_at = ticket.next_due()
    state = sla.sla_status(ticket, now).state
    text = sla.overdue_text(left) if left <= datetime.timedelta(0) else sla.format_delta(left)
    which = _("first response") if ticket.first_response_at is None and ticket.first_response_due else _("resolution")
    return format_html(
        '<span class="sla-badge sla-{}" title="{}: {}" style="display:inline-block;padding:1px 8px;'
        'border-radius:10px;color:#fff;background:{};font-weight:600;white-space:nowrap">{}</span>',
        state,
        which,
        timezone.localtime(due).strftime("%Y-%m-%d %H:%M:%S"),
        BADGE_COLOURS[state],
        text,
    )


DELIVERY_COLOURS = {
    ReplyDelivery.Status.SENT: "#067647",
    ReplyDelivery.Status.FAILED: "#b42318",
    ReplyDelivery.Status.IN_DOUBT: "#b54708",
    ReplyDelivery.Status.NOT_SENDABLE: "#b42318",
}


def delivery_badge(reply: ReplyDelivery, *, retry_url: str = ""):
    """A reply's delivery: channel and status; failed in red with the reason and "Retry sending"
    (a button of the change form posting to `retry_url`: no form inside the form)."""
    colour = DELIVERY_COLOURS.get(reply.status, "#475467")
    label = reply.get_status_display()
    if reply.channel:
        label = f"{reply.get_channel_display()} · {label}"
    badge = format_html(
        '<span class="reply-delivery reply-{}" style="color:{};font-weight:600">{}</span>', reply.status, colour, label
    )
    if reply.status in (ReplyDelivery.Status.FAILED, ReplyDelivery.Status.IN_DOUBT) and reply.error_reason:
        badge = format_html(
            '{}<br><span class="reply-error" style="color:{}">{} ({})</span>',
            badge,
            colour,
            reply.error_reason,
            reply.error_code,
        )
    if reply.status == ReplyDelivery.Status.FAILED and retry_url:
        badge = format_html(
            '{}<br><button type="submit" class="button reply-retry" formaction="{}" formnovalidate>{}</button>',
            badge,
            retry_url,
            _("Retry sending"),
        )
    return badge


class TicketEventInline(admin.TabularInline):
    model = TicketEvent
    fields = ["at", "kind", "from_status", "to_status", "body_text", "delivery_status", "actor"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = _("history")

    @admin.display(description=_("text"))
    def body_text(self, event: TicketEvent) -> str:
        """What the system wrote in the reader's language, then what a person typed."""
        return event.body_text

    @admin.display(description=_("delivery"))
    def delivery_status(self, event: TicketEvent):
        if event.kind != TicketEvent.Kind.REPLY:
            return ""
        reply = getattr(event, "delivery", None)
        if reply is None:  # a reply recorded before deliveries were
            return "—"
        retry_url = reverse("admin:feedback_ticket_retry_reply", args=[event.ticket_id, reply.pk])
        return delivery_badge(reply, retry_url=retry_url)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor", "delivery")


@admin.register(Ticket)
class TicketAdmin(ServiceFormAdminMixin, admin.ModelAdmin):
    add_form = TicketAddForm
    form = TicketChangeForm
    # Fits a 1366 px screen: time to breach first, then why the ticket is prioritised.
    list_display = [
        "ticket_no", "time_to_breach", "priority_with_reason", "kind", "status", "member_name", "handled_by", "age",
    ]  # fmt: skip
    list_select_related = ["member", "assignee", "team"]

    list_filter = [
        QueueFilter, "status", "kind", "priority", "store", AgeFilter, "team", "assignee", "channel", "topics",
    ]  # fmt: skip
    search_fields = ["ticket_no", "message"]
    date_hierarchy = "created_at"
    action_form = TicketActionForm
    actions = ["assign_to_me", "assign_to_user", "assign_to_team"]
    inlines = [TicketTopicInline, TicketEventInline]
    readonly_fields = [
        "ticket_no", "status", "channel", "message", "contact_name", "phone", "email", "member",
        "purchase", "store", "order_ref", "created_at", "contacted_at", "priority_reason_text",
        "first_response_at", "resolved_at", "photos",
        "time_to_breach", "first_response_due", "resolution_due", "first_response_breached_at",
        "resolution_breached_at",
    ]  # fmt: skip
    change_fieldsets = [
        (None, {"fields": ["ticket_no", "status", "kind", "channel", "created_at", "message", "photos"]}),
        (_("Service level"), {"fields": ["time_to_breach", "contacted_at", "first_response_due", "first_response_at",
                                         "first_response_breached_at", "resolution_due", "resolved_at",
                                         "resolution_breached_at"]}),
        (_("Customer"), {"fields": ["contact_name", "phone", "email", "member", "purchase", "order_ref", "store"]}),
        (_("Work"), {"fields": ["priority", "priority_reason_text", "assignee", "team", "new_status",
                             "reply_goes_to", "reply",
                                "internal_note"]}),
    ]  # fmt: skip
    change_form_template = "admin/feedback/ticket/change_form.html"

    @staticmethod
    def _work_fields(obj) -> list[str]:
        """The change form's editable fields; "record only" only when no channel can deliver a reply."""
        fields = ["kind", "priority", "assignee", "team", "new_status", "reply", "internal_note"]
        if delivery.reply_channel(obj) is None:
            fields.insert(fields.index("reply") + 1, "record_only")
        return fields

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": TicketAddForm.FIELDS})]
        if not self.has_change_permission(request, obj):
            return self.change_fieldsets
        fieldsets = []
        for name, options in self.change_fieldsets:
            fields = list(options["fields"])
            if "reply" in fields and "record_only" in self._work_fields(obj):
                fields.insert(fields.index("reply") + 1, "record_only")
            fieldsets.append((name, {**options, "fields": fields}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else [*self.readonly_fields, "reply_goes_to"]

    @admin.display(description=_("reply goes to"))
    def reply_goes_to(self, obj):
        """Where a reply typed now will go (masked), or the warning that nothing can deliver it."""
        channel, sentence = delivery.describe_destination(obj)
        if channel is None:
            return format_html(
                '<strong class="reply-no-channel" style="color:#b42318">{}</strong> <a href="{}">{}</a>',
                sentence,
                reverse("admin:feedback_ticket_record_call", args=[obj.pk]),
                _("Record a call"),
            )
        return format_html('<span class="reply-channel reply-channel-{}">{}</span>', channel, sentence)

    def get_inlines(self, request, obj):
        return [] if obj is None else self.inlines

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["fields"] = TicketAddForm.Meta.fields  # the extra fields are the form's own
        else:
            kwargs["fields"] = self._work_fields(obj)
            if not self.has_change_permission(request, obj):
                kwargs["fields"] = []
        return super().get_form(request, obj, change, **kwargs)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        ticket = Ticket.objects.filter(pk=object_id).select_related("member").first() if object_id.isdigit() else None
        if ticket is not None and response.status_code == 200:
            # The page shows the customer's phone and email in clear: recorded, after the page's
            # own transaction (a page re-shown with errors still showed them).
            services.show_ticket_contact(
                user=request.user,
                ticket=ticket,
                channel=services.privacy.ADMIN_CHANNEL,
                path=request.path,
                client_ip=client_ip(request),
            )
        return response

    # --- retry a failed reply, record a call -------------------------------------------------

    def get_urls(self):
        return [
            path(
                "<int:ticket_id>/replies/<int:delivery_id>/retry/",
                self.admin_site.admin_view(self.retry_reply_view),
                name="feedback_ticket_retry_reply",
            ),
            path(
                "<int:ticket_id>/record-call/",
                self.admin_site.admin_view(self.record_call_view),
                name="feedback_ticket_record_call",
            ),
            *super().get_urls(),
        ]

    def _ticket_to_work(self, request, ticket_id: int) -> Ticket:
        ticket = get_object_or_404(Ticket, pk=ticket_id)
        if not self.has_change_permission(request, ticket):
            raise PermissionDenied
        return ticket

    def retry_reply_view(self, request, ticket_id: int, delivery_id: int):
        from django.views.decorators.http import require_POST

        @require_POST
        def view(request):
            ticket = self._ticket_to_work(request, ticket_id)
            failed = get_object_or_404(ReplyDelivery, pk=delivery_id, ticket=ticket)
            try:
                services.retry_reply(delivery=failed, actor=request.user)  # sent after this commits
            except services.ReplyNotRetryable as error:
                self.message_user(request, error.detail, messages.ERROR)
            else:
                failed.refresh_from_db()
                if failed.status == ReplyDelivery.Status.SENT:
                    self.message_user(request, _("The reply was sent."), messages.SUCCESS)
                elif failed.status == ReplyDelivery.Status.PENDING:
                    self.message_user(request, _("The reply will be sent shortly."), messages.INFO)
                else:
                    self.message_user(
                        request,
                        _("The reply could not be sent: %(reason)s") % {"reason": failed.error_reason},
                        messages.ERROR,
                    )
            return redirect(reverse("admin:feedback_ticket_change", args=[ticket.pk]))

        return view(request)

    def record_call_view(self, request, ticket_id: int):
        ticket = self._ticket_to_work(request, ticket_id)
        form = RecordCallForm(request.POST or None, initial={"called_at": timezone.localtime().replace(second=0)})
        if request.method == "POST" and form.is_valid():
            try:
                services.record_call(
                    ticket=ticket, actor=request.user, called_at=form.cleaned_data["called_at"],
                    note=form.cleaned_data["note"],
                )  # fmt: skip
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                self.message_user(request, _("The call was recorded."), messages.SUCCESS)
                return redirect(reverse("admin:feedback_ticket_change", args=[ticket.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": ticket,
            "title": _("Record a call for %(ticket)s") % {"ticket": ticket.ticket_no},
            "intro": _(
                "A call to the customer counts as the first response, at the call's time, if it came before any "
                "reply that was really sent."
            ),
            "page_class": "record_call",
            "submit_label": _("Record the call"),
            "form": form,
            "errors": bool(form.errors),
        }
        return render(request, "admin/feedback/ticket/record_call.html", context, status=400 if form.errors else 200)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("channel", Ticket.Channel.STORE)
        profile = getattr(request.user, "staff_profile", None)
        if profile is not None and profile.store_id:
            initial.setdefault("store", profile.store_id)
        return initial

    def get_queryset(self, request):
        return super().get_queryset(request).with_queue_due()

    def get_ordering(self, request):
        """Time to breach: the most overdue first, then the soonest due; tickets without a target last."""
        return [F("queue_due").asc(nulls_last=True), "-created_at"]

    @admin.display(description=_("time to breach"), ordering=F("queue_due").asc(nulls_last=True))
    def time_to_breach(self, obj):
        return breach_badge(obj, timezone.now())

    @admin.display(description=_("priority"), ordering="priority")
    def priority_with_reason(self, obj):
        """The priority and, under it, why (the priority rules that gave it: "金卡会员")."""
        reason = reason_display(obj.priority_reason)
        if not reason:
            return obj.get_priority_display()
        return format_html(
            '{}<br><small class="priority-reason" style="color:#475467">{}</small>', obj.get_priority_display(), reason
        )

    @admin.display(description=_("member"), ordering="member__member_no")
    def member_name(self, obj):
        """The member's name, the member number on hover (narrower than both side by side)."""
        if obj.member is None:
            return "—"
        return format_html('<span title="{}">{}</span>', obj.member.member_no, obj.member.name)

    @admin.display(description=_("assignee"), ordering="assignee__username")
    def handled_by(self, obj):
        """The assignee, and the team under it (one column: the queue fits a 1366 px screen)."""
        person = obj.assignee.get_username() if obj.assignee else "—"
        if obj.team is None:
            return person
        return format_html('{}<br><small class="ticket-team" style="color:#475467">{}</small>', person, obj.team.name)

    @admin.display(description=_("why prioritised"))
    def priority_reason_text(self, obj):
        return reason_display(obj.priority_reason) or "—"

    @admin.display(description=_("age"), ordering="created_at")
    def age(self, obj):
        return timesince(obj.created_at, timezone.now(), depth=1)

    @admin.display(description=_("photos"))
    def photos(self, obj):
        attachments = list(obj.attachments.all())
        if not attachments:
            return "—"
        return format_html_join(
            " ",
            '<a href="{0}" target="_blank" rel="noopener"><img src="{0}" alt="{1}" '
            'style="max-width:160px;max-height:160px;border:1px solid #ccc;border-radius:4px"></a>',
            ((reverse("feedback:attachment", args=[a.pk]), a.original_name) for a in attachments),
        )

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term:
            from members.models import Member

            by_phone = queryset.filter(pk__in=Ticket.objects.with_phone(term).values("pk")) | queryset.filter(
                member__in=Member.objects.with_phone(term)
            )
            results = results | by_phone
        return results, may_have_duplicates

    @admin.action(description=_("Assign to me"), permissions=["change"])
    def assign_to_me(self, request, queryset):
        changed = services.assign_tickets(tickets=list(queryset), assignee=request.user, actor=request.user)
        self.message_user(
            request,
            ngettext("%(count)d ticket assigned to you.", "%(count)d tickets assigned to you.", changed)
            % {"count": changed},
            messages.SUCCESS,
        )

    @admin.action(description=_("Assign to the user chosen above"), permissions=["change"])
    def assign_to_user(self, request, queryset):
        form = AssignChoiceForm(request.POST)
        user = form.cleaned_data.get("assign_user") if form.is_valid() else None
        if user is None:
            self.message_user(request, _("Choose a user first."), messages.ERROR)
            return
        self._bulk_assign(request, queryset, assignee=user)

    @admin.action(description=_("Assign to the team chosen above"), permissions=["change"])
    def assign_to_team(self, request, queryset):
        form = AssignChoiceForm(request.POST)
        team = form.cleaned_data.get("assign_team") if form.is_valid() else None
        if team is None:
            self.message_user(request, _("Choose a team first."), messages.ERROR)
            return
        self._bulk_assign(request, queryset, team=team)

    def _bulk_assign(self, request, queryset, **target):
        from django.core.exceptions import ValidationError

        try:
            changed = services.assign_tickets(tickets=list(queryset), actor=request.user, **target)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return
        self.message_user(
            request,
            ngettext("%(count)d ticket assigned.", "%(count)d tickets assigned.", changed) % {"count": changed},
            messages.SUCCESS,
        )

    def has_delete_permission(self, request, obj=None):
        # Tickets are records of what customers said; managers may still delete (e.g. spam).
        return super().has_delete_permission(request, obj)


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = ["original_name", "ticket", "content_type", "width", "height", "size", "created_at"]
    list_select_related = ["ticket"]
    readonly_fields = ["ticket", "file", "original_name", "size", "width", "height", "content_type", "preview"]
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("preview"))
    def preview(self, obj):
        return format_html('<img src="{}" style="max-width:320px">', reverse("feedback:attachment", args=[obj.pk]))


# --- teams, service levels, surveys, KPIs -----------------------------------------------------


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "lead", "member_count", "calendar", "serves_vip"]
    list_select_related = ["lead", "calendar"]
    fields = ["name", "lead", "members", "calendar", "serves_vip"]
    search_fields = ["name"]
    filter_horizontal = ["members"]

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).annotate(member_total=Count("members"))

    @admin.display(description=_("members"), ordering="member_total")
    def member_count(self, obj):
        return obj.member_total

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "lead":
            kwargs["queryset"] = get_user_model().objects.filter(is_active=True, is_staff=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "members":
            kwargs["queryset"] = get_user_model().objects.filter(is_active=True, is_staff=True)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


@admin.register(SlaTarget)
class SlaTargetAdmin(admin.ModelAdmin):
    list_display = ["__str__", "kind", "channel", "priority", "first_response_text", "resolution_text", "updated_at"]
    list_filter = ["channel", "priority", "kind"]
    fields = ["kind", "channel", "priority", "first_response", "resolution"]

    @admin.display(description=_("first response within"), ordering="first_response")
    def first_response_text(self, obj):
        return sla.format_delta(obj.first_response)

    @admin.display(description=_("resolution within"), ordering="resolution")
    def resolution_text(self, obj):
        return sla.format_delta(obj.resolution)


@admin.register(KpiTarget)
class KpiTargetAdmin(admin.ModelAdmin):
    list_display = ["metric", "store", "baseline_month", "change_percent", "target_value", "due_month", "set_by"]
    list_select_related = ["store", "set_by"]
    list_filter = ["metric", "store"]
    fields = ["metric", "store", "baseline_month", "change_percent", "target_value", "due_month"]

    def save_model(self, request, obj, form, change):
        obj.set_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(SurveyResponse)
class SurveyResponseAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "survey", "channel", "score", "ticket", "member", "store", "short_comment"]
    list_select_related = ["ticket", "member", "store", "survey"]
    list_filter = ["kind", "survey", "channel", "store", "score"]
    date_hierarchy = "created_at"
    search_fields = ["ticket__ticket_no", "comment"]
    fields = [
        "kind",
        "survey",
        "version",
        "score",
        "comment",
        "ticket",
        "member",
        "store",
        "channel",
        "staff",
        "created_at",
        "answer_list",
    ]
    readonly_fields = fields

    @admin.display(description=_("answers"))
    def answer_list(self, obj):
        """Each answer as "key: value", in the order given (a multiple choice on several lines)."""
        return format_html_join(
            "",
            "<div><code>{}</code>: {}</div>",
            (
                (a.question_key, a.number if a.number is not None else a.choice or a.text)
                for a in obj.answers.order_by("id")
            ),
        )

    @admin.display(description=_("comment"))
    def short_comment(self, obj):
        from django.utils.text import Truncator

        return Truncator(obj.comment).chars(60)


@admin.register(ServiceKpi)
class ServiceKpiAdmin(ReadOnlyAdmin):
    """ "Service KPIs": charts per month against the managers' targets, a store filter, CSV export."""

    def changelist_view(self, request, extra_context=None):
        from django.core.exceptions import PermissionDenied

        from feedback import admin_kpis

        if not self.has_view_permission(request):
            raise PermissionDenied
        return admin_kpis.kpi_page(request, self.admin_site.each_context(request), self.opts)


# --- Issue 19, SLAs and priority: business hours and priority rules -------------------------------


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "weekdays_text", "opens_at", "closes_at", "time_zone", "observes_public_holidays"]
    fields = ["name", "weekdays", "opens_at", "closes_at", "time_zone", "observes_public_holidays"]

    @admin.display(description=_("working days"))
    def weekdays_text(self, obj):
        return obj.weekdays_display()


class PriorityRuleForm(forms.ModelForm):
    """Tier and classification offered from what `members` knows (through its hooks)."""

    tier_code = forms.ChoiceField(label=_("tier"), required=False)
    classification = forms.ChoiceField(label=_("classification"), required=False)

    class Meta:
        model = PriorityRule
        fields = ["name", "priority", "tier_code", "classification", "paid_plan", "kind", "vip", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from members import classification_hook, loyalty

        self.fields["tier_code"].choices = [("", _("any tier")), *loyalty.tier_choices()]
        self.fields["classification"].choices = [("", _("any classification")), *classification_hook.choices()]


@admin.register(PriorityRule)
class PriorityRuleAdmin(admin.ModelAdmin):
    form = PriorityRuleForm
    list_display = ["reason", "priority", "tier_code", "classification", "paid_plan", "kind", "vip", "is_active"]
    list_filter = ["priority", "vip", "is_active"]

    @admin.display(description=_("reason shown"), ordering="name")
    def reason(self, obj):
        return obj.display_name
