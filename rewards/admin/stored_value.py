"""Stored value (储值卡) in the back office: accounts and their ledger (read-only), top-ups, gifts and
bonus lots (read-only), top-up rules (managers edit them), the "Top up", "Adjust" and "Cash out"
pages (each applied by one `rewards.services.stored_value` verb) and the managers' liability report."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from loyalty_crm.admin_base import ReadOnlyAdmin
from loyalty_crm.charts import line_chart
from loyalty_crm.errors import DomainError
from members.models import Member
from rewards import selectors_stored_value as selectors
from rewards.models import (
    StoredValueAccount,
    StoredValueBonusLot,
    StoredValueEntry,
    StoredValueGift,
    StoredValueLiability,
    TopUp,
    TopUpRule,
)
from rewards.services import stored_value
from rewards.services.stored_value import MAX_STORED_VALUE_AMOUNT, TOP_UP_PAYMENT_CHOICES

TOP_UP = "rewards.top_up_stored_value"
ADJUST = "rewards.adjust_stored_value"
CASH_OUT = "rewards.cash_out_stored_value"
LIABILITY = "rewards.view_stored_value_liability"


def _money_field(label, *, allow_negative=False, required=True, help_text=""):
    return forms.DecimalField(
        label=label,
        max_digits=12,
        decimal_places=2,
        min_value=-MAX_STORED_VALUE_AMOUNT if allow_negative else Decimal("0.01"),
        max_value=MAX_STORED_VALUE_AMOUNT,
        required=required,
        help_text=help_text,
    )


class _OnceForm(forms.Form):
    """A form applied once: its hidden `external_ref` is the service's idempotency key, so a second
    submission of the same page (a double click, a resent POST) answers the first result."""

    external_ref = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("external_ref", f"ADMIN-{uuid.uuid4().hex[:24]}")
        super().__init__(*args, **kwargs)


class RuleChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, rule):
        return gettext("%(name)s (from ¥%(pay)s: +¥%(bonus)s)") % {
            "name": rule.name,
            "pay": rule.pay_amount,
            "bonus": rule.bonus_amount,
        }


class TopUpForm(_OnceForm):
    amount = _money_field(_("Amount paid (¥)"))
    rule = RuleChoiceField(
        queryset=TopUpRule.objects.none(),
        required=False,
        label=_("Top-up rule"),
        empty_label=_("No rule (no bonus)"),
        help_text=_("Only the rules on offer today; the amount must reach the rule's."),
    )
    payment_method = forms.ChoiceField(label=_("Paid by"), choices=TOP_UP_PAYMENT_CHOICES)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rule"].queryset = selectors.rules_on_offer()


class AdjustForm(_OnceForm):
    principal_delta = _money_field(
        _("Principal change (¥)"), allow_negative=True, required=False, help_text=_("Negative to take away.")
    )
    bonus_delta = _money_field(
        _("Bonus change (¥)"), allow_negative=True, required=False, help_text=_("A bonus added by hand never lapses.")
    )
    reason = forms.CharField(label=_("Reason"), max_length=200)


class CashOutForm(_OnceForm):
    confirm = forms.BooleanField(
        label=_("I have paid the principal back to the customer"),
        help_text=_("The bonus lapses with it."),
    )


@admin.register(StoredValueAccount)
class StoredValueAccountAdmin(ReadOnlyAdmin):
    list_display = ["member", "principal", "bonus", "total", "updated_at"]
    list_select_related = ["member"]
    search_fields = ["member__member_no"]
    show_full_result_count = False

    @admin.display(description=_("total"))
    def total(self, account):
        return account.total

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("top-up/<int:member_id>/", wrap(self.top_up_view), name="rewards_storedvalueaccount_top_up"),
            path("<path:object_id>/adjust/", wrap(self.adjust_view), name="rewards_storedvalueaccount_adjust"),
            path("<path:object_id>/cash-out/", wrap(self.cash_out_view), name="rewards_storedvalueaccount_cash_out"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_top_up": request.user.has_perm(TOP_UP),
            "can_adjust": request.user.has_perm(ADJUST),
            "can_cash_out": request.user.has_perm(CASH_OUT),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def _page(self, request, *, form, title, member, account, submit_label, page_class, intro=""):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "subtitle": str(member),
            "opts": self.opts,
            "member": member,
            "account": account,
            "form": form,
            "errors": bool(form.errors),
            "page_class": page_class,
            "submit_label": submit_label,
            "intro": intro,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/rewards/storedvalueaccount/service_page.html", context)

    def _apply(self, request, form, call):
        """Run the service; map its refusals onto the form. Returns the result or None."""
        try:
            return call()
        except ValidationError as error:
            if hasattr(error, "error_dict"):
                for field, errors in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, error)
        except DomainError as error:
            form.add_error(None, error.detail)
        return None

    def _done(self, request, member, text):
        self.message_user(request, text, messages.SUCCESS)
        return redirect("admin:members_member_change", member.pk)

    def top_up_view(self, request, member_id):
        """Top up a member (money taken outside the system) through `stored_value.top_up`."""
        if not request.user.has_perm(TOP_UP):
            raise PermissionDenied
        member = get_object_or_404(Member, pk=member_id)
        account = StoredValueAccount.objects.filter(member=member).first()
        form = TopUpForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            result = self._apply(
                request,
                form,
                lambda: stored_value.top_up(
                    member=member,
                    amount=data["amount"],
                    rule=data["rule"],
                    payment_method=data["payment_method"],
                    external_ref=data["external_ref"],
                    store=getattr(getattr(request.user, "staff_profile", None), "store", None),
                    actor=request.user,
                ),
            )
            if result is not None:
                return self._done(
                    request,
                    member,
                    gettext(
                        "¥%(amount)s topped up for member %(member_no)s (bonus ¥%(bonus)s); the balance is now "
                        "¥%(total)s."
                    )
                    % {
                        "amount": result.top_up.amount,
                        "member_no": member.member_no,
                        "bonus": result.top_up.bonus,
                        "total": result.total,
                    },
                )
        intro = gettext("Balance: ¥%(principal)s principal + ¥%(bonus)s bonus.") % {
            "principal": account.principal if account else "0.00",
            "bonus": account.bonus if account else "0.00",
        }
        return self._page(
            request,
            form=form,
            title=gettext("Top up"),
            member=member,
            account=account,
            submit_label=gettext("Record top-up"),
            page_class="stored-value-top-up",
            intro=intro,
        )

    def adjust_view(self, request, object_id):
        """A manager's correction with a reason, through `stored_value.adjust_balance`."""
        if not request.user.has_perm(ADJUST):
            raise PermissionDenied
        account = get_object_or_404(StoredValueAccount.objects.select_related("member"), pk=object_id)
        form = AdjustForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            result = self._apply(
                request,
                form,
                lambda: stored_value.adjust_balance(
                    member=account.member,
                    principal_delta=data["principal_delta"] or Decimal("0.00"),
                    bonus_delta=data["bonus_delta"] or Decimal("0.00"),
                    reason=data["reason"],
                    external_ref=data["external_ref"],
                    actor=request.user,
                ),
            )
            if result is not None:
                return self._done(
                    request,
                    account.member,
                    gettext("Adjustment recorded; the balance is now ¥%(total)s.") % {"total": result.total},
                )
        return self._page(
            request,
            form=form,
            title=gettext("Adjust stored value"),
            member=account.member,
            account=account,
            submit_label=gettext("Record adjustment"),
            page_class="stored-value-adjust",
            intro=gettext("Balance: ¥%(principal)s principal + ¥%(bonus)s bonus.")
            % {"principal": account.principal, "bonus": account.bonus},
        )

    def cash_out_view(self, request, object_id):
        """Pay the principal back and let the bonus lapse, through `stored_value.cash_out`."""
        if not request.user.has_perm(CASH_OUT):
            raise PermissionDenied
        account = get_object_or_404(StoredValueAccount.objects.select_related("member"), pk=object_id)
        form = CashOutForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            result = self._apply(
                request,
                form,
                lambda: stored_value.cash_out(
                    member=account.member, external_ref=form.cleaned_data["external_ref"], actor=request.user
                ),
            )
            if result is not None:
                return self._done(
                    request,
                    account.member,
                    gettext("¥%(principal)s paid back to member %(member_no)s; ¥%(bonus)s bonus lapsed.")
                    % {
                        "principal": -result.principal_delta,
                        "member_no": account.member.member_no,
                        "bonus": -result.bonus_delta,
                    },
                )
        return self._page(
            request,
            form=form,
            title=gettext("Cash out stored value"),
            member=account.member,
            account=account,
            submit_label=gettext("Cash out"),
            page_class="stored-value-cash-out",
            intro=gettext("Pay back ¥%(principal)s principal; ¥%(bonus)s bonus lapses.")
            % {"principal": account.principal, "bonus": account.bonus},
        )


@admin.register(StoredValueEntry)
class StoredValueEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at", "member", "kind", "principal_delta", "bonus_delta", "principal_after", "bonus_after",
        "store", "purchase", "external_ref", "reason", "actor_username",
    ]  # fmt: skip
    list_select_related = ["member", "store", "purchase"]
    list_filter = ["kind", "store"]
    search_fields = ["member__member_no", "external_ref", "purchase__external_ref"]
    show_full_result_count = False


@admin.register(TopUp)
class TopUpAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "member", "amount", "rule", "bonus", "bonus_expires_on", "points", "payment_method"]
    list_select_related = ["member", "rule"]
    list_filter = ["payment_method", "rule"]
    search_fields = ["member__member_no", "external_ref"]
    show_full_result_count = False


@admin.register(StoredValueGift)
class StoredValueGiftAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "buyer", "masked_phone", "amount", "claimed_by", "claimed_at"]
    list_select_related = ["buyer", "claimed_by"]
    search_fields = ["buyer__member_no", "external_ref"]
    fields = ["buyer", "masked_phone", "amount", "external_ref", "store", "claimed_by", "claimed_at", "created_at"]
    readonly_fields = fields
    show_full_result_count = False

    @admin.display(description=_("recipient's phone"))
    def masked_phone(self, gift):
        from members.masking import mask_phone

        return mask_phone(gift.recipient_phone)


@admin.register(StoredValueBonusLot)
class StoredValueBonusLotAdmin(ReadOnlyAdmin):
    list_display = ["entry", "account", "amount", "remaining", "expires_on"]
    list_select_related = ["entry", "account"]
    show_full_result_count = False


@admin.register(TopUpRule)
class TopUpRuleAdmin(admin.ModelAdmin):
    """Managers edit the offers; a rule used by top-ups is retired (inactive), never deleted."""

    list_display = [
        "name", "pay_amount", "bonus_amount", "points", "valid_from", "valid_until", "once_per_member",
        "bonus_expires_after_days", "is_active",
    ]  # fmt: skip
    list_filter = ["is_active", "once_per_member"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(StoredValueLiability)
class StoredValueLiabilityAdmin(ReadOnlyAdmin):
    """ "Stored-value liability": what the shop owes now, by store and month, and a chart."""

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(LIABILITY)

    def has_module_permission(self, request):
        return request.user.has_perm(LIABILITY)

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        report = selectors.liability()
        months = report.months[-12:]
        labels = [m["month"].strftime("%y-%m") for m in months]
        empty = gettext("No stored value yet.")
        series = [
            (
                gettext("Owed at the end of each month (¥)"),
                [m["principal_owed"] + m["bonus_owed"] for m in months],
                "#b8326a",
            ),
            (gettext("Topped up per month (¥)"), [m["topped_up"] for m in months], "#067647"),
            (gettext("Spent per month (¥)"), [m["spent"] for m in months], "#2e6da4"),
        ]
        charts = [
            {
                "label": label,
                "svg": line_chart(labels=labels, values=values, title=label, color=color, empty_text=empty),
            }
            for label, values, color in series
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Stored-value liability"),
            "report": report,
            "charts": charts,
            "accounts_url": reverse("admin:rewards_storedvalueaccount_changelist"),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/rewards/storedvalueliability/report.html", context)
