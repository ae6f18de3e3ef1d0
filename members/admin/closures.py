"""Members' requests to close their account (from the member centre): staff confirm, which erases
the member through `erase_member` and ends their sessions, or refuse with a note the member sees.

Deciding needs the erase permission (`members.erase_member`); everyone with view permission sees
the list. The decision is taken by `members.services` while the form validates, so a refused
decision (the member withdrew meanwhile) is a form error, never a half-written row.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from loyalty_crm.errors import DomainError
from members import services
from members.admin._common import ERASE_PERMISSION, ServiceFormAdminMixin
from members.models import AccountClosureRequest


class ClosureDecisionForm(forms.ModelForm):
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[
            ("", _("— not decided yet —")),
            ("confirm", _("Confirm: erase the member now (irreversible)")),
            ("refuse", _("Refuse (say why in the note)")),
        ],
        required=False,
    )

    class Meta:
        model = AccountClosureRequest
        fields = ["note"]

    def clean(self):
        cleaned = super().clean()
        decision = cleaned.get("decision")
        if not decision or self.errors:
            return cleaned
        try:
            if decision == "confirm":
                self.instance = services.confirm_account_closure(
                    request=self.instance, actor=self.actor, note=cleaned.get("note", "")
                )
            else:
                self.instance = services.refuse_account_closure(
                    request=self.instance, actor=self.actor, note=cleaned.get("note", "")
                )
        except DomainError as error:
            raise ValidationError(error.detail) from error
        self.saved_by_service = True
        return cleaned


@admin.register(AccountClosureRequest)
class AccountClosureRequestAdmin(ServiceFormAdminMixin, admin.ModelAdmin):
    form = ClosureDecisionForm
    list_display = ["member", "requested_at", "status", "handled_by", "handled_at"]
    list_filter = ["status"]
    list_select_related = ["member", "handled_by"]
    search_fields = ["member__member_no"]
    search_help_text = _("Member number (exact).")
    date_hierarchy = "requested_at"
    readonly_fields = ["member", "requested_at", "reason", "status", "handled_by", "handled_at"]
    list_per_page = 50

    def get_search_results(self, request, queryset, search_term):
        term = (search_term or "").strip().upper()
        if not term:
            return queryset, False
        return queryset.filter(member__member_no=term), False

    def get_fields(self, request, obj=None):
        fields = ["member", "requested_at", "reason", "status", "handled_by", "handled_at"]
        if obj is not None and obj.is_open and self.has_change_permission(request, obj):
            return [*fields, "decision", "note"]
        return [*fields, "note"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_open and self.has_change_permission(request, obj):
            return self.readonly_fields
        return [*self.readonly_fields, "note"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm(ERASE_PERMISSION) and (obj is None or obj.is_open)
