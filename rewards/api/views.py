"""Points API: thin views that validate, call one service or selector, and render."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty_crm.api.permissions import ModelPermissions
from loyalty_crm.api.schema import conflict
from loyalty_crm.errors import DomainError
from members import selectors as members_selectors
from members.models import Member, Purchase, Store
from members.services import PurchaseDraft, PurchaseLine
from rewards import selectors, services
from rewards.api.serializers import (
    BATCH_ITEMS,
    MAX_BATCH_PURCHASES,
    AdjustInputSerializer,
    AdjustOutputSerializer,
    BatchOutputSerializer,
    LedgerEntrySerializer,
    MemberNoField,
    MembershipInputSerializer,
    MembershipPlanSerializer,
    MembershipSerializer,
    PointsSummarySerializer,
    PostingOutputSerializer,
    PreviewInputSerializer,
    PreviewOutputSerializer,
    PurchaseBatchItemSerializer,
    PurchaseInput,
    PurchaseInputSerializer,
    RefundInputSerializer,
    RefundOutputSerializer,
    StoreCodeField,
    TierDetailSerializer,
    TierHistorySerializer,
    posting_bodies,
)
from rewards.models import (
    EarnRule,
    LedgerEntry,
    MembershipPlan,
    MembershipSubscription,
    PointsAccount,
    PurchasePosting,
    PurchaseRefund,
    Tier,
    TierHistory,
)
from rewards.services.batch import CONFLICT, POSTED, REFUSED

PURCHASE_INPUT = PurchaseInput()  # POST /purchases/'s body, its fields built once per process
BATCH_ITEM_INPUT = BATCH_ITEMS  # POST /purchases/batch/'s items, the serializer built once
MEMBER_PARAM = OpenApiParameter("member_no", str, OpenApiParameter.PATH, description="The member's public number")


class CanAdjustPoints(BasePermission):
    def has_permission(self, request, view):
        return bool(request.user and request.user.has_perm("rewards.adjust_points"))


class PurchasePostView(APIView):
    """Post a purchase: 201 the first time, 200 with the first answer for a retry, 409 on a
    reused `external_ref` with a different body."""

    queryset = PurchasePosting.objects.none()  # POST needs rewards.add_purchaseposting

    @extend_schema(
        request=PurchaseInputSerializer,
        responses={
            201: PostingOutputSerializer,
            200: PostingOutputSerializer,
            409: conflict(
                "idempotency_conflict", "member_erased", "insufficient_points", "coupon_invalid", "insufficient_balance"
            ),
        },
    )
    def post(self, request):
        data = request.data
        # The member, store and reference as the input's validation reads them, when the body gives
        # them plainly (None: validated first, then looked up).
        keys = PURCHASE_INPUT.keys(data)
        digest = services.request_digest(data) if keys is not None else ""
        lookup = None
        if keys is not None:
            member_no, store_code, external_ref = keys
            lookup = selectors.posting_lookup(member_no=member_no, external_ref=external_ref)
            if lookup.posting is not None and lookup.posting.request_digest and not data.get("tenders"):
                # A retry of the very body first posted (a stored-value tender's permission is
                # checked on the way below): the stored first answer, the body not read again.
                store = members_selectors.store_by_code(store_code) if store_code else None
                result = services.answer_same_request(
                    lookup.posting, request_digest=digest, member=lookup.member, store=store
                )
                if result is not None:
                    return Response(posting_bodies([result])[0], status=status.HTTP_200_OK)
        values = PURCHASE_INPUT.validate(data)  # member and store: the strings given
        member_no, store_code = values["member"], values.get("store")
        if lookup is None or keys != (member_no, store_code, values["external_ref"]):
            lookup = selectors.posting_lookup(member_no=member_no, external_ref=values["external_ref"])
        store = members_selectors.store_by_code(store_code) if store_code else None
        if (member_no is not None and lookup.member is None) or (store_code and store is None):
            raise PURCHASE_INPUT.unknown(
                member=member_no if lookup.member is None else None,
                store=store_code if store_code and store is None else None,
            )
        if any(tender["amount"] for tender in values.get("tenders") or []) and not request.user.has_perm(
            "rewards.pay_stored_value"
        ):
            raise PermissionDenied(_("You may not take payment from a member's stored value."))
        asked = {
            "member": lookup.member,
            "external_ref": values["external_ref"],
            "ordered_at": values["ordered_at"],
            "items": [PurchaseLine(**item) for item in values["items"]],
            "store": store,
            "channel": values["channel"],
            "payment_method": values["payment_method"],
            "total": values.get("total"),
            "coupon_code": (values.get("coupon_code") or "").strip() or None,
            "points_to_use": values["points_to_use"],
            "tenders": values.get("tenders"),
        }
        # A retry of a body written otherwise (or of a posting made without the API) is answered
        # from the stored first answer when its fingerprint matches: no transaction, no other query.
        result = services.answer_retry(lookup.posting, **asked)
        if result is None:
            result = services.post_purchase(
                **asked, actor=request.user, ref_checked=lookup.posting is None, request_digest=digest
            )
        return Response(
            posting_bodies([result])[0],  # as PostingOutputSerializer renders it, built directly
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class PurchaseBatchView(APIView):
    """Post up to 500 purchases at once (a till syncing after being offline), each with its own
    `external_ref`, through `post_purchases_each` (the batch posting's rule, item by item). Answers
    200 with one answer per purchase, in the request's order: 201 posted, 200 already posted (the
    first answer), 400 invalid, 409 refused — one bad purchase never refuses the others, and a
    purchase sent again is never posted twice. A body that is not a list, is empty or holds more
    than 500 purchases is refused as a whole (400)."""

    queryset = PurchasePosting.objects.none()  # POST needs rewards.add_purchaseposting

    @extend_schema(request=PurchaseBatchItemSerializer(many=True), responses={200: BatchOutputSerializer})
    def post(self, request):
        items = request.data
        if not isinstance(items, list):
            raise ValidationError({"non_field_errors": [_("Send the purchases as a JSON list.")]})
        if not items:
            raise ValidationError({"non_field_errors": [_("The list of purchases is empty.")]})
        if len(items) > MAX_BATCH_PURCHASES:
            raise ValidationError(
                {
                    "non_field_errors": [
                        _("A batch holds at most %(max)d purchases; this one has %(count)d.")
                        % {"max": MAX_BATCH_PURCHASES, "count": len(items)}
                    ]
                }
            )
        answers: list[dict | None] = [None] * len(items)
        valid = {}
        zone = timezone.get_current_timezone()
        for index, item in enumerate(items):
            try:
                valid[index] = BATCH_ITEM_INPUT.validate(item, zone)
            except ValidationError as exc:  # a non-object item (null, a string…) has no fields to name
                errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
                answers[index] = _refused(index, item, 400, errors=errors)
        # Only the number: the posting needs the member's id and number (members re-reads its
        # status under the row lock), and a whole member row costs its timestamps and encrypted
        # fields' decryption, 500 times. tests/rewards/test_batch_api.py pins the queries.
        members = _by_key(Member, "member_no", {values["member"] for values in valid.values()}, only=("member_no",))
        stores = _by_key(Store, "code", {values["store"] for values in valid.values() if values["store"]})
        drafts, where = [], []
        for index, values in valid.items():
            member = members.get(values["member"])
            store = stores.get(values["store"]) if values["store"] else None
            if member is None or (values["store"] and store is None):
                field, value = ("member", values["member"]) if member is None else ("store", values["store"])
                message = (MemberNoField if member is None else StoreCodeField)().error_messages["does_not_exist"]
                answers[index] = _refused(index, items[index], 400, errors={field: [message.format(value=value)]})
                continue
            drafts.append(
                PurchaseDraft(
                    member=member,
                    external_ref=values["external_ref"],
                    ordered_at=values["ordered_at"],
                    items=[PurchaseLine(**item) for item in values["items"]],
                    store=store,
                    channel=values["channel"],
                    payment_method=values["payment_method"],
                    total=values.get("total"),
                )
            )
            where.append(index)
        outcomes = services.post_purchases_each(drafts=drafts, actor=request.user).outcomes if drafts else []
        answered = [(index, o) for index, o in zip(where, outcomes, strict=True) if o.result is not None]
        bodies = posting_bodies([o.result for _index, o in answered])
        for (index, outcome), body in zip(answered, bodies, strict=True):
            status_code = 201 if outcome.status == POSTED else 200
            answers[index] = {"index": index, "external_ref": outcome.external_ref, "status": status_code}
            answers[index]["purchase"] = body
        for index, outcome in zip(where, outcomes, strict=True):
            if outcome.status == CONFLICT:
                answers[index] = _refused(index, items[index], 409, code="idempotency_conflict", detail=outcome.detail)
            elif outcome.status == REFUSED:
                answers[index] = _refused_by(index, items[index], outcome.error)
        statuses = [answer["status"] for answer in answers]
        return Response(
            {
                "created": statuses.count(201),
                "replayed": statuses.count(200),
                "refused": len(statuses) - statuses.count(201) - statuses.count(200),
                "results": answers,
            }
        )


def _by_key(model, field: str, keys: set[str], only: tuple[str, ...] = ()) -> dict:
    if not keys:
        return {}
    rows = model.objects.filter(**{f"{field}__in": keys})
    return {getattr(row, field): row for row in (rows.only(*only) if only else rows)}


def _refused(index: int, item, status_code: int, **body) -> dict:
    ref = item.get("external_ref") if isinstance(item, dict) else None
    return {"index": index, "external_ref": ref if isinstance(ref, str) else None, "status": status_code, **body}


def _refused_by(index: int, item, error: Exception) -> dict:
    """A purchase `members` refused: its ValidationError as field errors (400), a domain error as
    its code (409) — what POST /purchases/ answers for the same purchase."""
    if isinstance(error, DomainError):
        return _refused(index, item, 409, code=error.code, detail=str(error.detail))
    if isinstance(error, DjangoValidationError) and hasattr(error, "error_dict"):
        errors = {field: [str(m) for m in messages] for field, messages in error.message_dict.items()}
    else:
        errors = {"non_field_errors": [str(m) for m in getattr(error, "messages", [error])]}
    return _refused(index, item, 400, errors=errors)


class PurchaseRefundView(APIView):
    """Refund a purchase: all of it, an `amount`, or the goods of `lines` (their money share back
    as money, their points share back as points). 201 the first time, 200 for a retry."""

    queryset = PurchaseRefund.objects.none()  # POST needs rewards.add_purchaserefund

    @extend_schema(
        request=RefundInputSerializer,
        responses={
            201: RefundOutputSerializer,
            200: RefundOutputSerializer,
            409: conflict("idempotency_conflict", "already_refunded", "refund_exceeds_purchase"),
        },
    )
    def post(self, request, pk: int):
        purchase = get_object_or_404(Purchase, pk=pk)
        data = RefundInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.refund_purchase(
            purchase=purchase,
            external_ref=data.validated_data["external_ref"],
            amount=data.validated_data.get("amount"),
            lines=[(line["item"], line["quantity"]) for line in data.validated_data.get("lines") or []] or None,
            reason=data.validated_data["reason"],
            actor=request.user,
        )
        return Response(
            RefundOutputSerializer(result).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


@extend_schema(parameters=[MEMBER_PARAM])
class PointsSummaryView(APIView):
    queryset = PointsAccount.objects.none()  # GET needs rewards.view_pointsaccount

    @extend_schema(responses=PointsSummarySerializer)
    def get(self, request, member_no: str):
        member = get_object_or_404(Member, member_no=member_no)
        return Response(PointsSummarySerializer(selectors.points_summary(member)).data)


@extend_schema(parameters=[MEMBER_PARAM])
class LedgerView(generics.ListAPIView):
    """The member's ledger rows, newest first."""

    queryset = LedgerEntry.objects.none()  # GET needs rewards.view_ledgerentry
    serializer_class = LedgerEntrySerializer
    filter_backends = []

    def get_queryset(self):
        return selectors.ledger_for(get_object_or_404(Member, member_no=self.kwargs["member_no"]))


@extend_schema(parameters=[MEMBER_PARAM])
class TierHistoryView(generics.ListAPIView):
    """The member's tier changes, newest first, each with its reason and qualifying figure."""

    queryset = TierHistory.objects.none()  # GET needs rewards.view_tierhistory
    serializer_class = TierHistorySerializer
    filter_backends = []

    def get_queryset(self):
        return selectors.tier_history_for(get_object_or_404(Member, member_no=self.kwargs["member_no"]))


@extend_schema(parameters=[MEMBER_PARAM])
class PointsAdjustView(APIView):
    """Managers only (`rewards.adjust_points`); the reason is required and recorded."""

    queryset = LedgerEntry.objects.none()
    permission_classes = [ModelPermissions, CanAdjustPoints]

    @extend_schema(
        request=AdjustInputSerializer,
        responses={201: AdjustOutputSerializer, 409: conflict("insufficient_points", "member_erased")},
    )
    def post(self, request, member_no: str):
        member = get_object_or_404(Member, member_no=member_no)
        data = AdjustInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.adjust_points(member=member, actor=request.user, **data.validated_data)
        return Response(AdjustOutputSerializer(result).data, status=status.HTTP_201_CREATED)


class TierListView(generics.ListAPIView):
    """Tiers, lowest first, with thresholds and benefits (names translated)."""

    queryset = Tier.objects.order_by("rank")
    serializer_class = TierDetailSerializer
    filter_backends = []


class CanViewEarningRules(BasePermission):
    """The preview writes nothing: whoever may read the earning rules may ask it (POST carries a basket)."""

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.has_perm("rewards.view_earnrule"))


class PointsPreviewView(APIView):
    """The points a basket would earn and why: the rules, promotions and caps that applied.

    The same computation as purchase posting; nothing is written. With `member`, the member's
    tier, paid plan and what they earned that day count too."""

    queryset = EarnRule.objects.none()
    permission_classes = [CanViewEarningRules]

    @extend_schema(request=PreviewInputSerializer, responses={200: PreviewOutputSerializer})
    def post(self, request):
        data = PreviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        preview = services.preview_points(
            items=[PurchaseLine(**item) for item in values["items"]],
            total=values.get("total"),
            member=values.get("member"),
            store=values.get("store"),
            channel=values["channel"],
            ordered_at=values.get("ordered_at"),
        )
        return Response(PreviewOutputSerializer(preview).data)


class MembershipPlanListView(generics.ListAPIView):
    """Paid membership plans on sale, cheapest first (names translated)."""

    queryset = MembershipPlan.objects.filter(is_active=True).order_by("price", "id")
    serializer_class = MembershipPlanSerializer
    filter_backends = []


@extend_schema(parameters=[MEMBER_PARAM])
class MemberMembershipsView(generics.ListAPIView):
    """GET: the member's paid memberships, latest first. POST: sell a plan (a renewal starts when
    the current membership ends); idempotent on `external_ref` (201 first, 200 for a retry, 409
    `idempotency_conflict` for another member or plan, 409 `plan_not_on_sale`)."""

    queryset = MembershipSubscription.objects.none()  # GET: view_, POST: add_membershipsubscription
    serializer_class = MembershipSerializer
    filter_backends = []

    def get_queryset(self):
        return selectors.memberships_of(get_object_or_404(Member, member_no=self.kwargs["member_no"]))

    @extend_schema(
        request=MembershipInputSerializer,
        responses={
            201: MembershipSerializer,
            200: MembershipSerializer,
            409: conflict("idempotency_conflict", "plan_not_on_sale", "member_erased"),
        },
    )
    def post(self, request, member_no: str):
        member = get_object_or_404(Member, member_no=member_no)
        data = MembershipInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.buy_membership(
            member=member,
            plan=data.validated_data["plan"],
            external_ref=data.validated_data["external_ref"],
            actor=request.user,
        )
        subscription = selectors.memberships_of(member).get(pk=result.subscription.pk)
        return Response(
            MembershipSerializer(subscription).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )
