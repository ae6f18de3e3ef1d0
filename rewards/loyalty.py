"""`rewards`' answer to `members.loyalty`: real points and tiers for the members screens and API."""

from __future__ import annotations

from urllib.parse import urlencode

from django.db.models import IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext

from members.loyalty import LoyaltySnapshot, TierRef
from members.models import Member
from rewards import selectors
from rewards.models import PointsAccount, Tier


class RewardsLoyaltyProvider:
    def snapshots(self, members) -> dict:
        """One query: each member's balance and tier, or 0 and the entry tier without an account."""
        ids = [member.pk for member in members]
        if not ids:
            return {}
        account = PointsAccount.objects.filter(member_id=OuterRef("pk"))
        entry = selectors.entry_tiers()
        rows = (
            Member.objects.filter(pk__in=ids)
            .order_by()
            .annotate(
                points=Coalesce(Subquery(account.values("balance")[:1]), Value(0), output_field=IntegerField()),
                tier_code=Coalesce(Subquery(account.values("tier__code")[:1]), Subquery(entry.values("code")[:1])),
                tier_name=Coalesce(Subquery(account.values("tier__name")[:1]), Subquery(entry.values("name")[:1])),
            )
            .values_list("pk", "points", "tier_code", "tier_name")
        )
        return {
            pk: LoyaltySnapshot(points_balance=points, tier=TierRef(code=code, name=gettext(name) if name else code))
            for pk, points, code, name in rows
        }

    def filter_by_tier(self, queryset: QuerySet, tier_code: str) -> QuerySet:
        """Members in that tier (the members list's filter): `selectors.members_in_tiers`."""
        return selectors.members_in_tiers(queryset, [tier_code])

    def record_purchase(self, **kwargs):
        """For `members`' own "Record purchase" page (once `members.loyalty` forwards it here):
        record the purchase AND earn its points, exactly as `POST /api/v1/purchases/` does."""
        from rewards.services import post_purchase

        return post_purchase(**kwargs).purchase

    def member_tools(self, user, member) -> list[tuple[str, str]]:
        """ "Check out this member" at the till (`rewards.add_purchaseposting`), "Redeem a reward"
        (`rewards.add_redemption`), "Issue a coupon" (`rewards.issue_coupon`) and "Top up" stored
        value (`rewards.top_up_stored_value`), each for staff who may."""
        tools = []
        if user.has_perm("rewards.add_purchaseposting"):
            tools.append(
                (gettext("Check out this member"), f"{reverse('admin:till')}?{urlencode({'member': member.member_no})}")
            )
        if user.has_perm("rewards.add_redemption"):
            tools.append((gettext("Redeem a reward"), f"{reverse('admin:rewards_redemption_add')}?member={member.pk}"))
        if user.has_perm("rewards.issue_coupon"):
            tools.append((gettext("Issue a coupon"), f"{reverse('admin:rewards_coupon_issue')}?member={member.pk}"))
        if user.has_perm("rewards.top_up_stored_value") and not member.is_erased:
            tools.append((gettext("Top up"), reverse("admin:rewards_storedvalueaccount_top_up", args=[member.pk])))
        return tools

    def record_purchases(self, drafts, actor=None):
        """For bulk jobs of `members` (the demo data): the purchases AND their points, tiers and
        ledger, through the batch service (the same rules as posting one by one)."""
        from rewards.services import post_purchases_batch

        result = post_purchases_batch(drafts=drafts, actor=actor)
        conflicts = [outcome.detail for outcome in result.outcomes if outcome.status == "conflict"]
        if conflicts:
            from rewards.errors import IdempotencyConflict

            raise IdempotencyConflict(conflicts[0])
        return [outcome.result.purchase for outcome in result.outcomes]

    def tier_choices(self) -> list[tuple[str, str]]:
        return [(tier.code, tier.display_name) for tier in Tier.objects.order_by("rank")]

    # --- the member page's points panel ---

    LEDGER_PAGE_PARAM = "ledger_page"
    LEDGER_PER_PAGE = 20

    def member_panel(self, *, member, request) -> str:
        """The points panel, then the stored-value panel, then care plans, each for staff who may see it."""
        return (
            self._points_panel(member=member, request=request)
            + self._wallet_panel(member=member, request=request)
            + self._care_plans_panel(member=member, request=request)
        )

    def _care_plans_panel(self, *, member, request) -> str:
        """The member's care plans (running first) with the claims left and until when, for staff who
        may see plans sold (`rewards.view_careplansale`); one query."""
        from django.utils import timezone

        from rewards import selectors_care_plans

        user = request.user
        if not user.has_perm("rewards.view_careplansale"):
            return ""
        today = timezone.localdate()
        context = {
            "plans": selectors_care_plans.member_care_plans(member, today=today),
            "today": today,
            "may_claim": user.has_perm("rewards.add_careplanclaim") and not member.is_erased,
            "sell_url": reverse("admin:rewards_careplansale_add")
            if user.has_perm("rewards.add_careplansale") and not member.is_erased
            else "",
        }
        return render_to_string("rewards/member_care_plans_panel.html", context, request=request)

    WALLET_ROWS = 10

    def _wallet_panel(self, *, member, request) -> str:
        """Stored value (储值卡): principal, bonus, bonus that will lapse and the newest
        `WALLET_ROWS` ledger rows, for staff who may view accounts (`rewards.view_storedvalueaccount`);
        three queries."""
        from rewards import selectors_stored_value

        user = request.user
        if not user.has_perm("rewards.view_storedvalueaccount"):
            return ""
        wallet = selectors_stored_value.wallet(member, last=self.WALLET_ROWS)
        search = urlencode({"q": member.member_no})
        links = {"ledger": f"{reverse('admin:rewards_storedvalueentry_changelist')}?{search}"}
        if user.has_perm("rewards.top_up_stored_value") and not member.is_erased:
            links["top_up"] = reverse("admin:rewards_storedvalueaccount_top_up", args=[member.pk])
        if wallet.account_id:
            links["account"] = reverse("admin:rewards_storedvalueaccount_change", args=[wallet.account_id])
        return render_to_string("rewards/member_wallet_panel.html", {"w": wallet, "links": links}, request=request)

    def _points_panel(self, *, member, request) -> str:
        """Balance, lifetime figures, tier and the next one, expiring points, tier history and the
        ledger (read-only, `LEDGER_PER_PAGE` rows a page, newest first) for staff who may view the
        ledger (`rewards.view_ledgerentry`)."""
        user = request.user
        if not user.has_perm("rewards.view_ledgerentry"):
            return ""
        panel = selectors.points_panel(
            member, page=request.GET.get(self.LEDGER_PAGE_PARAM) or 1, per_page=self.LEDGER_PER_PAGE
        )
        page = panel.ledger_page

        def page_url(number) -> str:
            query = request.GET.copy()
            query[self.LEDGER_PAGE_PARAM] = str(number)
            return f"?{query.urlencode()}#points-ledger"

        page_urls = {"numbers": [], "previous": "", "next": ""}
        if page.has_other_pages():
            page_urls["numbers"] = [
                (number, page_url(number) if number != page.paginator.ELLIPSIS else "")
                for number in page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)
            ]
            if page.has_previous():
                page_urls["previous"] = page_url(page.previous_page_number())
            if page.has_next():
                page_urls["next"] = page_url(page.next_page_number())
        links = {}
        search = urlencode({"q": member.member_no})
        if user.has_perm("rewards.view_tierhistory"):
            links["tier_history"] = f"{reverse('admin:rewards_tierhistory_changelist')}?{search}"
        links["ledger"] = f"{reverse('admin:rewards_ledgerentry_changelist')}?{search}"
        if panel.account_id and user.has_perm("rewards.adjust_points") and not member.is_erased:
            links["adjust"] = reverse("admin:rewards_pointsaccount_adjust", args=[panel.account_id])
        html = render_to_string(
            "rewards/member_points_panel.html",
            {"p": panel, "page_urls": page_urls, "links": links},
            request=request,
        )
        return html + self.coupons_panel(member=member, request=request)

    def coupons_panel(self, *, member, request) -> str:
        """The member's coupons (valid, used, expired) and partner offers, for staff who may see
        coupons."""
        user = request.user
        if not user.has_perm("rewards.view_coupon"):
            return ""
        issue_url = ""
        if user.has_perm("rewards.issue_coupon") and not member.is_erased:
            issue_url = f"{reverse('admin:rewards_coupon_issue')}?member={member.pk}"
        return render_to_string(
            "rewards/member_coupons_panel.html",
            {
                "coupons": selectors.member_coupons(member),
                "partner_offers": selectors.member_partner_offers(member),
                "issue_url": issue_url,
                "all_url": f"{reverse('admin:rewards_coupon_changelist')}?{urlencode({'q': member.member_no})}",
            },
            request=request,
        )


class RewardsPaidPlanProvider:
    """`rewards`' answer to `members.paid_plan_hook`: who holds a paid membership in force today."""

    def plans_in_force(self, members) -> dict:
        """One query: member id → plan name, for subscriptions active today (as `active_membership`)."""
        from django.utils import timezone

        from rewards.models import MembershipSubscription

        ids = [member.pk for member in members]
        if not ids:
            return {}
        today = timezone.localdate()
        rows = (
            MembershipSubscription.objects.filter(
                member_id__in=ids,
                status=MembershipSubscription.Status.ACTIVE,
                starts_on__lte=today,
                ends_on__gte=today,
            )
            .order_by("member_id", "starts_on", "id")
            .values_list("member_id", "plan__name", "plan__code")
        )
        plans: dict[int, str] = {}
        for member_id, name, code in rows:
            plans.setdefault(member_id, gettext(name) if name else code)
        return plans
