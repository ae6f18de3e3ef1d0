"""Back office for the reward catalogue, coupons and redemptions (part of the `rewards.admin` package).

Stock, coupon status and redemptions change only through `rewards.services`: reward edits apply
the changed fields under the row lock, coupons and redemptions are read-only with actions (void,
cancel) that call the services, and "Redemptions → Add" is the counter's "Redeem a reward" page.
"""

from __future__ import annotations

import uuid

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from loyalty_crm.admin_base import ReadOnlyAdmin
from loyalty_crm.errors import DomainError
from members.models import Member
from rewards import selectors
from rewards.forms import IssueCouponForm, RedeemRewardForm
from rewards.models import Coupon, CouponTemplate, Redemption, Reward
from rewards.services import catalogue as catalogue_services
from rewards.services import coupons as coupon_services
from rewards.services import redemptions as redemption_services


@admin.register(Reward)
class RewardAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "kind",
        "points_cost",
        "stock_display",
        "is_active",
        "min_tier",
        "coupon_template",
        "valid_from",
        "valid_until",
    ]
    list_filter = ["kind", "is_active", "min_tier", "plan_members_only"]
    list_select_related = ["min_tier", "coupon_template"]
    search_fields = ["name"]
    show_full_result_count = False
    fields = list(catalogue_services.EDITABLE)  # what the service lets a manager change

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "stock" and field is not None:
            # Compare with the stock the page showed, not the row at save time: a redemption that
            # took a unit meanwhile must not make an untouched field look changed.
            field.show_hidden_initial = True
        return field

    @admin.display(description=gettext_lazy("stock"), ordering="stock")
    def stock_display(self, reward):
        return _("unlimited") if reward.stock is None else reward.stock

    def save_model(self, request, obj, form, change):
        # Through the service: a new reward is validated; an edit applies only the fields the
        # form changed, on the locked row, so a redemption's stock change is never overwritten.
        if change:
            changes = {
                name: form.cleaned_data[name] for name in form.changed_data if name in catalogue_services.EDITABLE
            }
            saved = catalogue_services.update_reward(reward=obj, changes=changes, actor=request.user)
        else:
            values = {name: form.cleaned_data.get(name) for name in self.fields if name in form.cleaned_data}
            saved = catalogue_services.create_reward(actor=request.user, **values)
        obj.pk = saved.pk
        obj.stock = saved.stock

    def has_delete_permission(self, request, obj=None):
        # Redemptions point at rewards (PROTECT); retire one by making it inactive.
        return False


@admin.register(CouponTemplate)
class CouponTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "value", "min_spend", "valid_days", "valid_until", "per_member_limit", "is_active"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name"]
    show_full_result_count = False

    def has_delete_permission(self, request, obj=None):
        return False  # coupons point at their template; retire one by making it inactive


@admin.register(Coupon)
class CouponAdmin(ReadOnlyAdmin):
    """Issued coupons: read-only (status changes through the services), searchable by code."""

    list_display = ["code", "member", "template", "kind", "value", "status", "source", "issued_at", "expires_at"]
    list_select_related = ["member", "template"]
    list_filter = ["status", "kind", "source"]
    search_fields = ["code", "member__member_no"]
    search_help_text = gettext_lazy("Coupon code (any case, dashes allowed) or member number.")
    show_full_result_count = False
    actions = ["void_selected"]
    readonly_fields = [
        "code",
        "member",
        "template",
        "kind",
        "value",
        "min_spend",
        "status",
        "source",
        "redemption",
        "issued_at",
        "issued_by",
        "starts_at",
        "expires_at",
        "redeemed_at",
        "redeemed_ref",
        "voided_at",
        "void_reason_display",
        "issue_reason",
    ]
    fields = readonly_fields

    # Issuing by hand (`rewards.issue_coupon`): a page of its own, linked from the member's page.

    def has_issue_permission(self, request):
        return request.user.has_perm("rewards.issue_coupon")

    def get_urls(self):
        from django.urls import path

        custom = [path("issue/", self.admin_site.admin_view(self.issue_view), name="rewards_coupon_issue")]
        return custom + super().get_urls()

    def issue_view(self, request):
        """Issue a coupon of a template to one member, with a reason, through `issue_coupon`."""
        if not self.has_issue_permission(request):
            raise PermissionDenied
        member_id = request.GET.get("member") or request.POST.get("member") or ""
        member = Member.objects.filter(pk=member_id).first() if str(member_id).isdigit() else None
        if member is None or member.is_erased:
            raise PermissionDenied
        form = IssueCouponForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                coupon = coupon_services.issue_coupon(
                    template=form.cleaned_data["template"],
                    member=member,
                    source=Coupon.Source.MANUAL,
                    actor=request.user,
                    reason=form.cleaned_data["reason"],
                )
            except DomainError as error:
                form.add_error("template", error.detail)
            else:
                self.message_user(
                    request,
                    _("Coupon %(code)s (%(coupon)s) issued to member %(member_no)s.")
                    % {"code": coupon.code, "coupon": coupon.describe(), "member_no": member.member_no},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:members_member_change", args=[member.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Issue a coupon"),
            "subtitle": str(member),
            "opts": self.opts,
            "member": member,
            "form": form,
            "errors": bool(form.errors),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/rewards/coupon/issue_coupon.html", context)

    def get_search_results(self, request, queryset, search_term):
        term = (search_term or "").strip()
        if not term:
            return queryset, False
        code = coupon_services.normalise_code(term)
        return queryset.filter(code=code) | queryset.filter(member__member_no=term), False

    @admin.display(description=gettext_lazy("void reason"))
    def void_reason_display(self, coupon):
        return coupon.void_reason_text or "—"

    def has_void_permission(self, request):
        return request.user.has_perm("rewards.void_coupon")

    @admin.action(description=gettext_lazy("Void the selected coupons"), permissions=["void"])
    def void_selected(self, request, queryset):
        voided, refused = 0, []
        for coupon in queryset.order_by("pk"):
            try:
                before = coupon.status
                coupon_services.void_coupon(coupon=coupon, reason_code=Coupon.VoidReason.BY_STAFF, actor=request.user)
                voided += before != Coupon.Status.VOID
            except DomainError as error:
                refused.append(f"{coupon.code}: {error.detail}")
        if voided:
            self.message_user(request, _("%(count)d coupons voided.") % {"count": voided}, messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.ERROR)


@admin.register(Redemption)
class RedemptionAdmin(admin.ModelAdmin):
    """Redemptions: read-only; "Add" is the counter's "Redeem a reward" page; managers cancel."""

    list_display = ["created_at", "member", "reward", "quantity", "points_spent", "status", "coupon_codes", "actor"]
    list_select_related = ["member", "reward", "actor"]
    list_filter = ["status", "reward__kind"]
    search_fields = ["=member__member_no", "=idempotency_key"]
    search_help_text = gettext_lazy("Exact member number or idempotency key.")
    show_full_result_count = False
    actions = ["cancel_selected"]
    readonly_fields = [
        "member",
        "reward",
        "quantity",
        "points_spent",
        "points_balance",
        "status",
        "coupon_codes",
        "idempotency_key",
        "spend_entry",
        "lots_taken",
        "actor",
        "created_at",
        "cancelled_at",
        "cancelled_by",
        "cancel_reason_display",
        "points_returned",
    ]
    fields = readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("coupons")

    @admin.display(description=gettext_lazy("cancellation reason"))
    def cancel_reason_display(self, redemption):
        return redemption.cancel_reason_text or "—"

    @admin.display(description=gettext_lazy("coupons"))
    def coupon_codes(self, redemption):
        return ", ".join(coupon.code for coupon in redemption.coupons.all()) or "—"

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_cancel_permission(self, request):
        return request.user.has_perm("rewards.cancel_redemption")

    @admin.action(
        description=gettext_lazy("Cancel the selected redemptions (points and stock go back)"), permissions=["cancel"]
    )
    def cancel_selected(self, request, queryset):
        for redemption in queryset.select_related("member", "reward").order_by("pk"):
            try:
                result = redemption_services.cancel_redemption(
                    redemption=redemption, actor=request.user, reason_code=Redemption.CancelReason.BACK_OFFICE
                )
            except DomainError as error:
                self.message_user(
                    request,
                    _("Redemption %(id)d not cancelled: %(detail)s") % {"id": redemption.pk, "detail": error.detail},
                    messages.ERROR,
                )
            else:
                self.message_user(
                    request,
                    _(
                        "Redemption %(id)d cancelled: %(points)d points back to member %(member_no)s "
                        "(balance %(balance)d)."
                    )
                    % {
                        "id": redemption.pk,
                        "points": result.points_returned,
                        "member_no": redemption.member.member_no,
                        "balance": result.points_balance,
                    },
                    messages.SUCCESS,
                )

    # --- "Redeem a reward" (the add page) ---

    def add_view(self, request, form_url="", extra_context=None):
        return self.redeem_reward_view(request, extra_context)

    def redeem_reward_view(self, request, extra_context=None):
        """Staff pick a reward and quantity for a member; `redeem_reward` does the rest."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        site = self.admin_site
        if request.method == "POST":
            form = RedeemRewardForm(request.POST, admin_site=site)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    result = redemption_services.redeem_reward(
                        member=data["member"],
                        reward=data["reward"],
                        quantity=data["quantity"],
                        idempotency_key=data["idempotency_key"],
                        actor=request.user,
                    )
                except ValidationError as error:
                    for message in error.messages:
                        form.add_error(None, message)
                except DomainError as error:
                    form.add_error(None, error.detail)
                else:
                    return self._after_redeem(request, result)
            # A refused attempt may be retried: the same key would answer a stored success only.
        else:
            member_id = request.GET.get("member")
            initial = {"idempotency_key": uuid.uuid4().hex, "quantity": 1}
            if member_id and member_id.isdigit():
                initial["member"] = int(member_id)
            form = RedeemRewardForm(initial=initial, admin_site=site)
        member = self._chosen_member(form)
        context = {
            **site.each_context(request),
            "title": _("Redeem a reward"),
            "subtitle": None,
            "opts": self.opts,
            "form": form,
            "member": member,
            "summary": selectors.points_summary(member) if member else None,
            "media": self.media + form.media,
            "errors": bool(form.errors),
            **(extra_context or {}),
        }
        request.current_app = site.name
        return TemplateResponse(request, "admin/rewards/redemption/redeem_reward.html", context)

    @staticmethod
    def _chosen_member(form) -> Member | None:
        value = form["member"].value()
        if value and str(value).isdigit():
            return Member.objects.not_erased().filter(pk=int(value)).first()
        return None

    def _after_redeem(self, request, result):
        redemption = result.redemption
        if result.created:
            self.log_addition(request, redemption, [{"added": {}}])
        message = _(
            "Redeemed %(quantity)d × %(reward)s for %(points)d points; member %(member_no)s now has %(balance)d points."
        ) % {
            "quantity": redemption.quantity,
            "reward": redemption.reward.name,
            "points": redemption.points_spent,
            "member_no": redemption.member.member_no,
            "balance": redemption.points_balance,
        }
        self.message_user(request, message, messages.SUCCESS)
        for coupon in result.coupons:
            self.message_user(
                request,
                format_html(
                    "{} <code class='coupon-code'>{}</code> ({})", _("Coupon code:"), coupon.code, coupon.describe()
                ),
                messages.SUCCESS,
            )
        url = reverse("admin:rewards_redemption_add", current_app=self.admin_site.name)
        return HttpResponseRedirect(f"{url}?member={redemption.member_id}")
