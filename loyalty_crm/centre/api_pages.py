"""The member-scoped API's card, points, coupons, rewards and wallet (`/api/v1/me/…`, issue 15):
the same selectors (`loyalty_crm.centre.selectors_pages`) and services as the pages under /m/.

Only a member session (`Authorization: Member <token>`) gets in: a staff token is refused
(`member_api_view_settings`). Every view reads the signed-in member (`request.auth`) only; another
member's coupon, redemption or wallet row is a 404 like an unknown one.
"""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty_crm.api.pagination import Pagination
from loyalty_crm.api.schema import conflict
from loyalty_crm.centre import limits
from loyalty_crm.centre import selectors_pages as data
from loyalty_crm.centre import serializers_pages as out
from loyalty_crm.centre.api_auth import LIMITED
from loyalty_crm.centre.session import member_api_view_settings
from rewards.errors import GiftUnavailable
from rewards.services import redemptions as redemption_services
from rewards.services import stored_value as stored_value_services

HISTORY_PER_PAGE = 20
TAG = ["member centre"]  # as the profile views (loyalty_crm.centre.api_profile)


class MeAPIView(APIView):
    """The base of every `/api/v1/me/` view: a member session only."""

    authentication_classes = member_api_view_settings()["authentication_classes"]
    permission_classes = member_api_view_settings()["permission_classes"]

    @property
    def member(self):
        return self.request.auth


class MeView(MeAPIView):
    @extend_schema(tags=TAG, responses=out.MeSerializer, summary="The signed-in member's card")
    def get(self, request):
        """Member number, name, tier with its benefits, points, stored value and the next tier."""
        return Response(out.MeSerializer(data.overview(self.member, per_page=1)).data)


def _page_link(request, page, number):
    if number is None:
        return None
    query = request.GET.copy()
    query["page"] = number
    return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")


class MePointsView(MeAPIView):
    @extend_schema(
        tags=TAG,
        parameters=[OpenApiParameter("page", int, description="The history's page (20 rows, newest first).")],
        responses=out.MePointsSerializer,
        summary="The signed-in member's points",
    )
    def get(self, request):
        """Balance, what expires and when (the year-end clearing in December), the next tier, and
        one page of the history in the member's words."""
        view = data.overview(self.member, page=request.GET.get("page", 1), per_page=HISTORY_PER_PAGE)
        page = view.ledger_page
        history = {
            "count": page.paginator.count,
            "next": _page_link(request, page, page.next_page_number() if page.has_next() else None),
            "previous": _page_link(request, page, page.previous_page_number() if page.has_previous() else None),
            "results": data.history_rows(page),
        }
        payload = {
            "points_balance": view.points_balance,
            "lifetime_earned": view.lifetime_earned,
            "expiring": view.expiring,
            "year_end": view.year_end,
            "next_tier": view.next_tier,
            "history": history,
        }
        return Response(out.MePointsSerializer(payload).data)


class MeCouponsView(MeAPIView):
    pagination_class = Pagination

    @extend_schema(
        tags=TAG,
        parameters=[out.MeCouponFilterSerializer],
        responses=out.MemberCouponSerializer(many=True),
        summary="The signed-in member's coupons",
    )
    def get(self, request):
        """The member's coupons (the newest 50), newest first; `?status=valid|used|expired`."""
        query = out.MeCouponFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        grouped = data.coupons(self.member)
        wanted = query.validated_data.get("status")
        rows = grouped[wanted] if wanted else [row for state in data.COUPON_STATES for row in grouped[state]]
        rows.sort(key=lambda row: (row.coupon.issued_at, row.coupon.pk), reverse=True)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(out.MemberCouponSerializer(page, many=True).data)


class MeCouponView(MeAPIView):
    @extend_schema(tags=TAG, responses=out.MemberCouponSerializer, summary="One of the member's coupons")
    def get(self, request, code: str):
        row = data.coupon(self.member, code)
        if row is None:
            raise Http404
        return Response(out.MemberCouponSerializer(row).data)


class MeRewardsView(MeAPIView):
    @extend_schema(tags=TAG, responses=out.MeRewardsSerializer, summary="Rewards the member may redeem")
    def get(self, request):
        """The rewards on offer, those the member may redeem now first; the others with the reason."""
        return Response(out.MeRewardsSerializer(data.catalogue(self.member)).data)


class MeRedemptionsView(MeAPIView):
    @extend_schema(
        tags=TAG,
        request=out.MeRedeemInputSerializer,
        responses={
            201: out.MeRedemptionSerializer,
            200: out.MeRedemptionSerializer,
            409: conflict(
                "insufficient_points",
                "out_of_stock",
                "reward_unavailable",
                "reward_limit_reached",
                "coupon_limit_reached",
                "idempotency_conflict",
            ),
        },
        summary="Redeem a reward for points",
    )
    def post(self, request):
        """Spend points on a reward; its coupons come back at once. Idempotent on `idempotency_key`
        (the member's own: 201 first, 200 with the first answer for a retry, 409
        `idempotency_conflict` for a different request with the same key)."""
        body = out.MeRedeemInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        values = body.validated_data
        result = redemption_services.redeem_reward(
            member=self.member,
            reward=values["reward"],
            quantity=values["quantity"],
            idempotency_key=data.redemption_key(self.member, values["idempotency_key"]),
        )
        redemption = data.redemption(self.member, result.redemption.pk)
        return Response(
            out.MeRedemptionSerializer(redemption).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class MeRedemptionView(MeAPIView):
    @extend_schema(tags=TAG, responses=out.MeRedemptionSerializer, summary="One of the member's redemptions")
    def get(self, request, pk: int):
        found = data.redemption(self.member, pk)
        if found is None:
            raise Http404
        return Response(out.MeRedemptionSerializer(found).data)


def _wallet_payload(member) -> dict:
    view = data.selectors_stored_value.wallet(member, last=50)
    return {
        "principal": view.principal,
        "bonus": view.bonus,
        "total": view.total,
        "expiring_bonus": [{"amount": amount, "expires_on": day} for amount, day in view.expiring_bonus],
        "entries": data.wallet_rows(view.entries),
    }


class MeWalletView(MeAPIView):
    @extend_schema(tags=TAG, responses=out.MeWalletSerializer, summary="The member's stored value")
    def get(self, request):
        """Principal and bonus, the bonus that lapses and when, and the newest 50 rows in member words."""
        return Response(out.MeWalletSerializer(_wallet_payload(self.member)).data)


class MeWalletEntriesView(MeAPIView):
    @extend_schema(
        tags=TAG,
        parameters=[OpenApiParameter("page", int, description="The history's page (20 rows, newest first).")],
        responses=out.MeWalletPageSerializer,
        operation_id="v1_me_wallet_entries_list",
        summary="The member's stored-value history, page by page",
    )
    def get(self, request):
        """Every row of the member's stored value in member words, 20 a page, newest first
        (`GET /api/v1/me/wallet/` gives the newest 50 with the balances)."""
        page = data.wallet_page(self.member, page=request.GET.get("page", 1), per_page=HISTORY_PER_PAGE)
        payload = {
            "count": page.paginator.count,
            "next": _page_link(request, page, page.next_page_number() if page.has_next() else None),
            "previous": _page_link(request, page, page.previous_page_number() if page.has_previous() else None),
            "results": data.wallet_rows(page.object_list),
        }
        return Response(out.MeWalletPageSerializer(payload).data)


class MeWalletEntryView(MeAPIView):
    @extend_schema(tags=TAG, responses=out.MeWalletRowSerializer, summary="One row of the member's stored value")
    def get(self, request, pk: int):
        entry = data.wallet_entry(self.member, pk)
        if entry is None:
            raise Http404
        return Response(out.MeWalletRowSerializer(data.wallet_rows([entry])[0]).data)


class MeGiftClaimView(MeAPIView):
    @extend_schema(
        tags=TAG,
        request=out.MeGiftClaimInputSerializer,
        responses={
            201: out.MeGiftClaimSerializer,
            200: out.MeGiftClaimSerializer,
            409: conflict("gift_unknown", "gift_already_claimed", "gift_not_yours"),
            429: OpenApiResponse(
                LIMITED, description="`gift_claims_limited`: too many wrong gift codes this hour; see Retry-After."
            ),
        },
        summary="Claim a stored-value gift",
    )
    def post(self, request):
        """Add a gift bought for the member's phone to their balance, once. The same member claiming
        the same code again gets 200 with `already_claimed: true` (nothing added)."""
        body = out.MeGiftClaimInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        code = body.validated_data["code"]
        retry_after = limits.gift_claims_retry_after(self.member.pk)
        if retry_after:
            response = Response(
                {"code": "gift_claims_limited", "detail": _("Too many wrong gift codes. Please try again in an hour.")},
                status=status.HTTP_429_TOO_MANY_REQUESTS,
            )
            response["Retry-After"] = str(retry_after)
            return response
        claimed = data.gift_already_claimed_by(self.member, code)
        if claimed is None:
            try:
                change = stored_value_services.claim_gift(code=code, member=self.member)
            except GiftUnavailable as refused:
                if refused.code == "gift_already_claimed":
                    claimed = data.gift_already_claimed_by(self.member, code)
                if claimed is None:
                    limits.record_gift_claim_refusal(self.member.pk, refused.code)
                    raise
            else:
                return Response(
                    out.MeGiftClaimSerializer(
                        {
                            "amount": change.principal_delta,
                            "principal": change.principal,
                            "bonus": change.bonus,
                            "total": change.total,
                            "already_claimed": False,
                        }
                    ).data,
                    status=status.HTTP_201_CREATED,
                )
        wallet = data.selectors_stored_value.wallet(self.member, last=0)
        return Response(
            out.MeGiftClaimSerializer(
                {
                    "amount": claimed.amount,
                    "principal": wallet.principal,
                    "bonus": wallet.bonus,
                    "total": wallet.total,
                    "already_claimed": True,
                }
            ).data
        )
