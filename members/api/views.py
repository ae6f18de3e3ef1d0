"""Members API (docs/api.md "Members"). Thin: validate, call one service or selector, render."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from loyalty_crm.api import filters as api_filters
from loyalty_crm.api.pagination import Pagination
from loyalty_crm.api.permissions import ModelPermissions
from loyalty_crm.api.schema import conflict
from loyalty_crm.netaddr import client_ip
from members import classification_hook as member_classification
from members import loyalty, services
from members.api.serializers import (
    InteractionSerializer,
    MemberInputSerializer,
    MemberLookupSerializer,
    MemberSerializer,
    MemberUpdateSerializer,
    PreferenceSerializer,
    PurchaseSerializer,
    ServiceRecordSerializer,
)
from members.models import (
    Consent,
    ConsentSource,
    ContactDetailView,
    Interaction,
    Member,
    Preference,
    Purchase,
    PurchaseItem,
    ServiceRecord,
)
from members.normalize import normalise_phone
from members.selectors import member_search

EXPORT_PERMISSION = "members.export_member"


class ReadsMembers(ModelPermissions):
    """A read sent as POST (the lookup keeps the phone out of the URL): the `view` permission."""

    perms_map = {**ModelPermissions.perms_map, "POST": ["%(app_label)s.view_%(model_name)s"]}


class MemberPagination(Pagination):
    """`?page_size=` up to 100; up to 200 only for users who may export members' data.

    Paging through every member's profile at 200 a page is an export in all but name, which the
    export permission governs; a larger page asked for by anyone else is served at 100.
    """

    capped_page_size = 100
    page_size_query_description = (
        "Results per page: up to 100, or up to 200 for users who may export members' data "
        "(`members.export_member`); a larger size is served at the cap."
    )

    def get_page_size(self, request):
        size = super().get_page_size(request)
        if size is not None and size > self.capped_page_size and not request.user.has_perm(EXPORT_PERMISSION):
            return self.capped_page_size
        return size


class MemberFilter(filters.FilterSet):
    phone = filters.CharFilter(method="filter_phone", label="Exact phone number (any format)")
    email = filters.CharFilter(method="filter_email", label="Exact email address")
    external_id = filters.CharFilter(field_name="external_id")
    tier = filters.CharFilter(method="filter_tier", label="Tier code")
    classification = filters.MultipleChoiceFilter(
        choices=member_classification.choices,
        method="filter_classification",
        label="Classification (high_value, potential, ordinary, lapsed, no_purchases); repeat for several",
    )
    store = filters.CharFilter(field_name="home_store__code", label="Home store code")
    status = filters.ChoiceFilter(choices=Member.Status.choices)
    tag = filters.CharFilter(field_name="tags__name", label="Tag name")
    registered_after = api_filters.IsoDateTimeFilter(field_name="registered_at", lookup_expr="gte")
    registered_before = api_filters.IsoDateTimeFilter(field_name="registered_at", lookup_expr="lt")
    search = filters.CharFilter(method="filter_search", label="Member number, name, external id, exact phone or email")

    class Meta:
        model = Member
        fields = []

    def filter_phone(self, queryset, name, value):
        return queryset.with_phone(value)

    def filter_email(self, queryset, name, value):
        return queryset.with_email(value)

    def filter_tier(self, queryset, name, value):
        return loyalty.filter_by_tier(queryset, value)

    def filter_classification(self, queryset, name, value: str):
        return member_classification.filter_by_classification(queryset, value) if value else queryset

    def filter_search(self, queryset, name, value):
        return member_search(queryset, value)


class MemberViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """PATCH is the one update verb (docs/api.md); PUT is not offered, so no full replace can wipe fields."""

    lookup_field = "member_no"
    serializer_class = MemberSerializer
    filterset_class = MemberFilter
    pagination_class = MemberPagination
    queryset = Member.objects.none()  # for the permission class's model lookup
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return member_classification.prepare(
            Member.objects.select_related("home_store", "referred_by")
            .prefetch_related(
                "tags", Prefetch("consents", queryset=Consent.objects.only("member_id", "topic", "granted"))
            )
            .order_by("-registered_at", "-id")
        )

    def _render(self, members, many=False, contact_clear=False):
        members = list(members) if many else [members]
        context = self.get_serializer_context() | {
            "loyalty_snapshots": loyalty.snapshots(members),
            "classification_snapshots": member_classification.snapshots(members),
            "contact_clear": contact_clear and not many,
        }
        serializer = MemberSerializer(members if many else members[0], many=many, context=context)
        return serializer.data

    def list(self, request, *args, **kwargs):
        # No DISTINCT: no filter joins to-many rows (one tag name matches a member at most once),
        # and DISTINCT over every column would sort the whole table for each page and count.
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self._render(page, many=True))

    @extend_schema(
        description="One member's profile. Phone, email and birthday are in clear only for users with "
        "`members.view_contact_details`, and each such answer is recorded (who, whose, when, from where); "
        "masked for everyone else."
    )
    def retrieve(self, request, *args, **kwargs):
        member = self.get_object()
        clear = services.reveal_contact_details(
            user=request.user,
            member=member,
            channel=ContactDetailView.Channel.API,
            path=request.path,
            client_ip=client_ip(request),
        )
        return Response(self._render(member, contact_clear=clear))

    @extend_schema(
        request=MemberLookupSerializer,
        responses={
            200: MemberSerializer,
            400: OpenApiResponse(description="The phone is missing or not a valid phone number."),
            404: OpenApiResponse(description="No member has this phone number."),
        },
        description="Exact lookup by phone number (any format) without the number in the URL or the "
        "access log. Answers the member as lists show it: contact data masked.",
    )
    @action(detail=False, methods=["post"], url_path="lookup", permission_classes=[ReadsMembers])
    def lookup(self, request):
        data = MemberLookupSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            phone = normalise_phone(data.validated_data["phone"])
        except DjangoValidationError as error:
            raise serializers.ValidationError({"phone": error.messages}) from error
        member = self.get_queryset().with_phone(phone).first()
        if member is None:
            raise NotFound(_("No member has this phone number."))
        return Response(self._render(member))

    @extend_schema(request=MemberInputSerializer, responses={201: MemberSerializer})
    def create(self, request, *args, **kwargs):
        data = MemberInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values.setdefault("source_channel", Member.SourceChannel.API)
        member = services.create_member(**values, actor=request.user, consent_source=ConsentSource.API)
        return Response(self._render(self.get_queryset().get(pk=member.pk)), status=status.HTTP_201_CREATED)

    @extend_schema(request=MemberUpdateSerializer, responses={200: MemberSerializer, 409: conflict("member_erased")})
    def partial_update(self, request, *args, **kwargs):
        member = self.get_object()
        data = MemberUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.update_member(
            member=member, actor=request.user, consent_source=ConsentSource.API, **data.validated_data
        )
        return Response(self._render(self.get_queryset().get(pk=member.pk)))


MEMBER_PARAM = OpenApiParameter("member_no", str, OpenApiParameter.PATH, description="The member's public number")


class MemberRecordViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """A member's records: list (newest first) and add through the `members` service."""

    model = None
    service = None

    def get_member(self) -> Member:
        if not hasattr(self, "_member"):
            self._member = get_object_or_404(Member, member_no=self.kwargs["member_no"])
        return self._member

    def get_queryset(self):
        return self.model.objects.filter(member=self.get_member())

    def perform_create(self, serializer):
        serializer.instance = self.service(
            member=self.get_member(), actor=self.request.user, **serializer.validated_data
        )


@extend_schema(parameters=[MEMBER_PARAM])
@extend_schema_view(create=extend_schema(responses={201: ServiceRecordSerializer, 409: conflict("member_erased")}))
class ServiceRecordViewSet(MemberRecordViewSet):
    model = ServiceRecord
    queryset = ServiceRecord.objects.none()
    serializer_class = ServiceRecordSerializer
    service = staticmethod(services.add_service_record)

    def get_queryset(self):
        return super().get_queryset().select_related("store", "staff")


@extend_schema(parameters=[MEMBER_PARAM])
@extend_schema_view(create=extend_schema(responses={201: PreferenceSerializer, 409: conflict("member_erased")}))
class PreferenceViewSet(MemberRecordViewSet):
    model = Preference
    queryset = Preference.objects.none()
    serializer_class = PreferenceSerializer
    service = staticmethod(services.add_preference)

    def get_queryset(self):
        return super().get_queryset().select_related("category", "product")


@extend_schema(parameters=[MEMBER_PARAM])
@extend_schema_view(create=extend_schema(responses={201: InteractionSerializer, 409: conflict("member_erased")}))
class InteractionViewSet(MemberRecordViewSet):
    model = Interaction
    queryset = Interaction.objects.none()
    serializer_class = InteractionSerializer
    service = staticmethod(services.add_interaction)

    def get_queryset(self):
        return super().get_queryset().select_related("store", "staff")


@extend_schema(parameters=[MEMBER_PARAM])
class MemberPurchaseViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """A member's purchases, newest first. Posting purchases is `POST /api/v1/purchases/` (rewards)."""

    queryset = Purchase.objects.none()
    serializer_class = PurchaseSerializer

    def get_queryset(self):
        member = get_object_or_404(Member, member_no=self.kwargs["member_no"])
        return (
            Purchase.objects.filter(member=member)
            .select_related("member", "store")
            .prefetch_related(Prefetch("items", queryset=PurchaseItem.objects.select_related("category")))
        )
