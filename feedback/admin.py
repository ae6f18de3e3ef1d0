"""Support's back office for tickets. Every change goes through `feedback.services`.

The change form's extra fields (new status, reply, internal note) and the editable fields
(priority, assignee) are applied by the services while the form validates, so a refused
transition or an unsent reply shows next to its field and nothing is half-written
(`members.admin.ServiceFormAdminMixin`).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from feedback import services
from feedback.models import Attachment, Ticket, TicketEvent
from members.admin import ServiceFormAdminMixin
from members.forms import ServiceFormMixin, add_service_errors


class TicketAddForm(ServiceFormMixin, forms.ModelForm):
    """Staff record feedback taken by phone or at the counter."""

    phone = forms.CharField(label=_("phone"), required=False)
    email = forms.CharField(label=_("email"), required=False)
    contact_name = forms.CharField(label=_("contact name"), required=False)
    member_no = forms.CharField(label=_("member number"), required=False)

    class Meta:
        model = Ticket
        fields = ["kind", "channel", "message", "contact_name", "phone", "email", "member_no", "order_ref", "store"]

    def save_through_service(self, data):
        return services.submit_feedback(
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
        help_text=_("Emailed to the customer when the ticket has an email address, and recorded."),
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
        fields = ["priority", "assignee"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(s, Ticket.Status(s).label) for s in services.allowed_transitions(self.instance.status)]
        keep = ("", _("— keep “%(status)s” —") % {"status": self.instance.get_status_display()})
        self.fields["new_status"].choices = [keep, *choices]
        if "assignee" in self.fields:
            from django.contrib.auth import get_user_model

            self.fields["assignee"].queryset = get_user_model().objects.filter(is_active=True, is_staff=True)

    def _post_clean(self):
        if self._errors:
            return
        from django.core.exceptions import ValidationError

        from loyalty_crm.errors import DomainError

        data = self.cleaned_data
        ticket = Ticket.objects.get(pk=self.instance.pk)
        try:
            with transaction.atomic():
                changes = {f: data[f] for f in ("priority", "assignee") if f in data and f in self.changed_data}
                if changes:
                    services.update_ticket(ticket=ticket, actor=self.actor, **changes)
                if data.get("reply"):
                    try:
                        services.reply(ticket=ticket, body=data["reply"], actor=self.actor)
                    except (ValidationError, DomainError) as error:
                        raise _FieldError("reply", error) from error
                if data.get("internal_note"):
                    services.add_note(ticket=ticket, body=data["internal_note"], actor=self.actor)
                if data.get("new_status"):
                    try:
                        services.change_status(ticket=ticket, to=data["new_status"], actor=self.actor)
                    except DomainError as error:
                        raise _FieldError("new_status", error) from error
        except _FieldError as failure:
            self.add_error(failure.field, failure.messages)
        except (ValidationError, DomainError) as error:
            add_service_errors(self, error)
        else:
            self.instance = Ticket.objects.get(pk=ticket.pk)

    def save(self, commit=True):
        return self.instance


class _FieldError(Exception):
    def __init__(self, field, error):
        self.field = field
        self.messages = [error.detail] if hasattr(error, "detail") else error.messages


class QueueFilter(admin.SimpleListFilter):
    title = _("queue")
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [("mine", _("My tickets")), ("unassigned", _("Unassigned")), ("active", _("Not yet resolved"))]

    def queryset(self, request, queryset):
        if self.value() == "mine":
            return queryset.assigned_to(request.user).not_done()
        if self.value() == "unassigned":
            return queryset.unassigned().not_done()
        if self.value() == "active":
            return queryset.not_done()
        return queryset


class TicketEventInline(admin.TabularInline):
    model = TicketEvent
    fields = ["at", "kind", "from_status", "to_status", "body", "actor"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = _("history")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


@admin.register(Ticket)
class TicketAdmin(ServiceFormAdminMixin, admin.ModelAdmin):
    add_form = TicketAddForm
    form = TicketChangeForm
    list_display = ["ticket_no", "kind", "status", "priority", "store", "member", "assignee", "created_at", "age"]
    list_select_related = ["store", "member", "assignee"]
    list_filter = [QueueFilter, "status", "kind", "priority", "store", "assignee", "channel"]
    search_fields = ["ticket_no", "message"]
    date_hierarchy = "created_at"
    actions = ["assign_to_me"]
    inlines = [TicketEventInline]
    readonly_fields = [
        "ticket_no", "status", "kind", "channel", "message", "contact_name", "phone", "email", "member",
        "purchase", "store", "order_ref", "created_at", "first_response_at", "resolved_at", "photos",
    ]  # fmt: skip
    change_fieldsets = [
        (None, {"fields": ["ticket_no", "status", "kind", "channel", "created_at", "message", "photos"]}),
        (_("Customer"), {"fields": ["contact_name", "phone", "email", "member", "purchase", "order_ref", "store"]}),
        (_("Work"), {"fields": ["priority", "assignee", "new_status", "reply", "internal_note",
                                "first_response_at", "resolved_at"]}),
    ]  # fmt: skip

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": TicketAddForm.Meta.fields})]
        return self.change_fieldsets

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_inlines(self, request, obj):
        return [] if obj is None else self.inlines

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["fields"] = TicketAddForm.Meta.fields
        else:
            kwargs["fields"] = ["priority", "assignee", "new_status", "reply", "internal_note"]
            if not self.has_change_permission(request, obj):
                kwargs["fields"] = []
        return super().get_form(request, obj, change, **kwargs)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("channel", Ticket.Channel.STORE)
        profile = getattr(request.user, "staff_profile", None)
        if profile is not None and profile.store_id:
            initial.setdefault("store", profile.store_id)
        return initial

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
