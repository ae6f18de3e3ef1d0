"""The questions that read customer profiles, with their query work done once."""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass, field

from django.db.models import Count, Exists, Max, OuterRef, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import translation
from django.utils.translation import gettext as _

from loyalty_crm import local_cache
from members import loyalty
from members.models import (
    Consent,
    ConsentEvent,
    ConsentTopic,
    ImportantDate,
    Interaction,
    Member,
    Preference,
    Purchase,
    PurchaseItem,
    ServiceRecord,
    Store,
)
from members.normalize import email_hashes, phone_hashes
from members.services import consent_state

RECENT = 10


def member_search(queryset, term: str):
    """Member number, external id (exact), name (contains), phone or email (exact, via hashes).

    A term that is a phone number or an email is looked up by its hash only (no name scan), so
    the counter's most common search stays an index lookup at any number of members.
    """
    term = (term or "").strip()
    if not term:
        return queryset
    condition = Q(member_no=term.upper()) | Q(external_id=term)
    hashes = phone_hashes(term) + email_hashes(term)
    if hashes:
        condition |= Q(phone_hash__in=hashes) | Q(email_hash__in=hashes)
    else:
        condition |= Q(name__icontains=term)
    return queryset.filter(condition)


def member_get(member_no: str) -> Member | None:
    return Member.objects.select_related("home_store", "referred_by").filter(member_no=member_no).first()


MARKETING_CHANNELS = {
    "email": ConsentTopic.MARKETING_EMAIL,
    "sms": ConsentTopic.MARKETING_SMS,
    "wechat": ConsentTopic.MARKETING_WECHAT,
}


def members_with_marketing_consent(queryset: QuerySet[Member], channel: str) -> QuerySet[Member]:
    """Members whose marketing consent for `channel` ("email", "sms", "wechat") is granted now.

    Reads the current consent state (`Consent`), so a withdrawal counts at once. An EXISTS
    subquery, never a join, so a member appears once.
    """
    topic = MARKETING_CHANNELS[channel]
    granted = Consent.objects.filter(member_id=OuterRef("pk"), topic=topic, granted=True)
    return queryset.filter(Exists(granted))


@dataclass
class Member360:
    member: Member
    loyalty: loyalty.LoyaltySnapshot
    consents: dict[str, bool]
    consent_events: list[ConsentEvent]
    purchase_stats: dict
    recent_purchases: list[Purchase]
    service_records: list[ServiceRecord]
    preferences: list[Preference]
    interactions: list[Interaction]
    tags: list[str] = field(default_factory=list)
    recommendations: list = field(default_factory=list)  # products, best first (nightly)


def member_360(member: Member) -> Member360:
    """Everything staff see on one screen, in a fixed number of queries whatever the history."""
    purchases = member.purchases.select_related("store").prefetch_related(
        Prefetch("items", queryset=PurchaseItem.objects.select_related("category"))
    )
    stats = member.purchases.aggregate(
        count=Count("id"),
        spend=Coalesce(Sum("total"), 0, output_field=Purchase._meta.get_field("total")),
        refunded=Coalesce(Sum("refunded_total"), 0, output_field=Purchase._meta.get_field("total")),
        last=Max("ordered_at"),
    )
    return Member360(
        member=member,
        loyalty=loyalty.snapshot(member),
        consents=consent_state(member),
        consent_events=list(member.consent_events.select_related("actor")[:RECENT]),
        purchase_stats=stats,
        recent_purchases=list(purchases[:RECENT]),
        service_records=list(member.service_records.select_related("store", "staff")[:RECENT]),
        preferences=list(member.preferences.select_related("category", "product")),
        interactions=list(member.interactions.select_related("store", "staff")[:RECENT]),
        tags=list(member.tags.values_list("name", flat=True)),
        recommendations=recommended_products(member),
    )


def _iso(value):
    return value.isoformat() if value else None


def _summary_in_english(record: ServiceRecord | Interaction) -> str:
    with translation.override("en"):
        return record.summary_text


def member_export(member: Member) -> dict:
    """A member's full data as JSON-ready values (the right of access).

    Summaries the system wrote are rendered in English (a member has no recorded language), with
    their code and parameters beside them for a reader who wants another language."""
    snapshot = loyalty.snapshot(member)
    return {
        "member_no": member.member_no,
        "external_id": member.external_id,
        "name": member.name,
        "gender": member.gender,
        "birthday": _iso(member.birthday),
        "phone": member.phone,
        "email": member.email,
        "home_store": member.home_store.code if member.home_store else None,
        "status": member.status,
        "tags": sorted(member.tags.values_list("name", flat=True)),
        "referral_code": member.referral_code,
        "referred_by": member.referred_by.member_no if member.referred_by else None,
        "registered_at": _iso(member.registered_at),
        "source_channel": member.source_channel,
        "notes": member.notes,
        "points_balance": snapshot.points_balance,
        "tier": {"code": snapshot.tier.code, "name": snapshot.tier.name},
        "consents": consent_state(member),
        "consent_history": [
            {
                "topic": e.topic,
                "granted": e.granted,
                "at": _iso(e.at),
                "source": e.source,
                "by": e.actor.get_username() if e.actor else None,
            }
            for e in member.consent_events.select_related("actor").order_by("at", "id")
        ],
        "purchases": [
            {
                "external_ref": p.external_ref,
                "ordered_at": _iso(p.ordered_at),
                "store": p.store.code if p.store else None,
                "channel": p.channel,
                "payment_method": p.payment_method,
                "subtotal": str(p.subtotal),
                "discount_total": str(p.discount_total),
                "total": str(p.total),
                "refunded_total": str(p.refunded_total),
                "items": [
                    {
                        "sku": i.sku,
                        "name": i.name,
                        "category": i.category.code if i.category else None,
                        "quantity": i.quantity,
                        "unit_price": str(i.unit_price),
                        "discount": str(i.discount),
                        "line_total": str(i.line_total),
                    }
                    for i in p.items.all()
                ],
            }
            for p in member.purchases.select_related("store")
            .prefetch_related(Prefetch("items", queryset=PurchaseItem.objects.select_related("category")))
            .order_by("ordered_at", "id")
        ],
        "service_records": [
            {
                "kind": s.kind,
                "status": s.status,
                "summary": _summary_in_english(s),
                "summary_code": s.summary_code,
                "summary_params": s.summary_params,
                "details": s.details,
                "store": s.store.code if s.store else None,
                "opened_at": _iso(s.opened_at),
                "closed_at": _iso(s.closed_at),
            }
            for s in member.service_records.select_related("store").order_by("opened_at", "id")
        ],
        "preferences": [
            {
                "kind": p.kind,
                "key": p.key,
                "value": p.value,
                "category": p.category.code if p.category else None,
                "product": p.product.sku if p.product else None,
            }
            for p in member.preferences.select_related("category", "product")
        ],
        "interactions": [
            {
                "kind": i.kind,
                "channel": i.channel,
                "direction": i.direction,
                "summary": _summary_in_english(i),
                "summary_code": i.summary_code,
                "summary_params": i.summary_params,
                "occurred_at": _iso(i.occurred_at),
            }
            for i in member.interactions.order_by("occurred_at", "id")
        ],
        # Who saw the member's contact details in clear, and when (`reveal_contact_details`).
        "contact_detail_views": [
            {"by": v.username, "at": _iso(v.at), "channel": v.channel}
            for v in member.contact_detail_views.order_by("at", "id")
        ],
        # The member centre: the terms and privacy versions accepted, requests to close the account,
        # the WeChat account bound.
        "wechat_openid": member.wechat_openid,
        "terms_accepted": [
            {"kind": a.version.kind, "version": a.version.version, "at": _iso(a.accepted_at), "source": a.source}
            for a in member.terms_acceptances.select_related("version").order_by("accepted_at", "id")
        ],
        "closure_requests": [
            {
                "requested_at": _iso(r.requested_at),
                "reason": r.reason,
                "status": r.status,
                "handled_at": _iso(r.handled_at),
                "note": r.note,
            }
            for r in member.closure_requests.order_by("requested_at", "id")
        ],
    }


# --- dashboard (added for the admin index; loyalty_crm.admin_site) --------------------------

from decimal import Decimal  # noqa: E402

from django.db.models import DecimalField, ExpressionWrapper, F, Value  # noqa: E402
from django.utils import timezone  # noqa: E402


@dataclass
class MonthFigures:
    month: datetime.date  # the first day of the month
    new_members: int
    revenue: Decimal


@dataclass
class DashboardFigures:
    members_total: int
    members_active: int
    new_this_month: int
    purchases_this_month: int
    revenue_this_month: Decimal
    open_service_records: int
    months: list[MonthFigures]


def _month_start(day: datetime.date, months_back: int = 0) -> datetime.date:
    index = day.year * 12 + day.month - 1 - months_back
    return datetime.date(index // 12, index % 12 + 1, 1)


def dashboard_figures(*, today: datetime.date, store=None, months: int = 12) -> DashboardFigures:
    """Key figures for the admin index, in a fixed number of queries (six).

    Revenue is what customers paid less refunds, in CNY. Months follow the project's time zone.
    With `store`, everything is limited to that store (members by home store); store staff who may
    not see every store's reports get only their own store's figures.
    """
    tz = timezone.get_current_timezone()

    def start_of(day: datetime.date) -> datetime.datetime:
        return datetime.datetime.combine(day, datetime.time.min, tzinfo=tz)

    this_month = start_of(_month_start(today))
    next_month = start_of(_month_start(_month_start(today) + datetime.timedelta(days=32)))

    members = Member.objects.all()
    purchases = Purchase.objects.all()
    service_records = ServiceRecord.objects.all()
    if store is not None:
        members = members.filter(home_store=store)
        purchases = purchases.filter(store=store)
        service_records = service_records.filter(store=store)

    money = DecimalField(max_digits=14, decimal_places=2)
    net = ExpressionWrapper(F("total") - F("refunded_total"), output_field=money)
    counts = members.aggregate(
        total=Count("id"),
        active=Count("id", filter=Q(status=Member.Status.ACTIVE)),
        new=Count("id", filter=Q(registered_at__gte=this_month, registered_at__lt=next_month)),
    )
    sales = purchases.filter(ordered_at__gte=this_month, ordered_at__lt=next_month).aggregate(
        count=Count("id"), revenue=Coalesce(Sum(net), Value(Decimal("0.00")), output_field=money)
    )
    open_records = service_records.filter(
        status__in=[ServiceRecord.Status.OPEN, ServiceRecord.Status.IN_PROGRESS]
    ).count()

    # One pass over the window's rows, a filtered sum per month (no per-row time zone conversion,
    # no sort of a year of purchases by month: benchmarks/bench_home.py at 1M members).
    edges = [start_of(_month_start(today, back)) for back in range(months - 1, -1, -1)] + [next_month]
    firsts = [_month_start(today, back) for back in range(months - 1, -1, -1)]

    def by_month(rows, column: str, value) -> dict:
        figures = rows.filter(**{f"{column}__gte": edges[0], f"{column}__lt": edges[-1]}).aggregate(
            **{
                f"m{i}": value(Q(**{f"{column}__gte": edges[i], f"{column}__lt": edges[i + 1]}))
                for i in range(len(firsts))
            }
        )
        return {month: figures[f"m{i}"] for i, month in enumerate(firsts)}

    new_by_month = by_month(members, "registered_at", lambda month: Count("id", filter=month))
    revenue_by_month = by_month(purchases, "ordered_at", lambda month: Sum(net, filter=month))
    series = []
    for back in range(months - 1, -1, -1):
        month = _month_start(today, back)
        series.append(
            MonthFigures(
                month=month,
                new_members=new_by_month.get(month, 0),
                revenue=Decimal(revenue_by_month.get(month) or 0).quantize(Decimal("0.01")),
            )
        )
    return DashboardFigures(
        members_total=counts["total"],
        members_active=counts["active"],
        new_this_month=counts["new"],
        purchases_this_month=sales["count"],
        revenue_this_month=Decimal(sales["revenue"]).quantize(Decimal("0.01")),
        open_service_records=open_records,
        months=series,
    )


# --- purchases per store and month (for feedback's complaint rate) --------------------------


def purchase_counts_by_store_month(
    *, start: datetime.datetime, end: datetime.datetime
) -> dict[tuple[int | None, datetime.date], int]:
    """How many purchases each store recorded in each month of [start, end), in one query.

    Keys are (store id or None, first day of the month in the project's time zone). Used by
    `feedback.kpis` for complaints per 100 purchases.
    """
    tz = timezone.get_current_timezone()
    # A filtered count per month, grouped by store only: no per-row time zone conversion, a hash of
    # a few stores rather than of (store, month) (benchmarks/bench_home.py at 1M members).
    firsts, day = [], timezone.localtime(start, tz).date().replace(day=1)
    while datetime.datetime.combine(day, datetime.time.min, tzinfo=tz) < end:
        firsts.append(day)
        day = _month_start(day + datetime.timedelta(days=32))
    edges = [max(start, datetime.datetime.combine(m, datetime.time.min, tzinfo=tz)) for m in firsts] + [end]
    rows = (
        Purchase.objects.filter(ordered_at__gte=start, ordered_at__lt=end)
        .values("store_id")
        .annotate(
            **{
                f"m{i}": Count("id", filter=Q(ordered_at__gte=edges[i], ordered_at__lt=edges[i + 1]))
                for i in range(len(firsts))
            }
        )
        .order_by()
    )
    return {(row["store_id"], month): row[f"m{i}"] for row in rows for i, month in enumerate(firsts) if row[f"m{i}"]}


# --- the till: finding the customer and the products at the counter ---------------------------

import functools  # noqa: E402
import re  # noqa: E402

from members import masking  # noqa: E402
from members.models import Product  # noqa: E402

TILL_PICK_LIMIT = 20
LAST4 = re.compile(r"^\d{4}$")


@dataclass(frozen=True)
class TillCandidate:
    """One member as the till's pick list shows them: contact data masked, as in every list."""

    member_no: str
    name: str
    phone: str  # masked
    tier: str
    points_balance: int
    last_visit: datetime.datetime | None


@dataclass(frozen=True)
class TillLookup:
    matched_by: str  # "member_no", "phone", "last4", "name" or "" (nothing to look for)
    candidates: list[TillCandidate]


def till_lookup(term: str) -> TillLookup:
    """The members a counter search names, in a fixed number of queries.

    A member number (typed or scanned from the member card) or a phone in any format finds one
    member by an index lookup; exactly four digits are the last four of the phone (a pick list of
    at most TILL_PICK_LIMIT, latest visit first); anything else is a name. Erased profiles never
    match.
    """
    term = (term or "").strip()
    if not term:
        return TillLookup(matched_by="", candidates=[])
    members = Member.objects.not_erased().annotate(last_visit=Max("purchases__ordered_at"))
    latest_visit_first = F("last_visit").desc(nulls_last=True)
    found = list(members.filter(member_no=term.upper())[:1])
    matched_by = "member_no"
    if not found and LAST4.match(term):
        matched_by = "last4"
        found = list(members.filter(phone_last4=term).order_by(latest_visit_first, "-id")[:TILL_PICK_LIMIT])
    elif not found and (hashes := phone_hashes(term)):
        matched_by = "phone"
        found = list(members.filter(phone_hash__in=hashes)[:1])
    elif not found:
        matched_by = "name"
        found = list(members.filter(name__icontains=term).order_by(latest_visit_first, "-id")[:TILL_PICK_LIMIT])
    snapshots = loyalty.snapshots(found) if found else {}
    return TillLookup(
        matched_by=matched_by,
        candidates=[
            TillCandidate(
                member_no=member.member_no,
                name=member.name,
                phone=masking.mask_phone(member.phone),
                tier=snapshots[member.pk].tier.name,
                points_balance=snapshots[member.pk].points_balance,
                last_visit=member.last_visit,
            )
            for member in found
        ],
    )


@functools.lru_cache(maxsize=8192)
def pinyin_initials(name: str) -> str:
    """`玫瑰花束` → `mghs`: the first letter of each syllable (other characters kept, lower case),
    so staff find a product by typing its initials as on a Chinese till."""
    from pypinyin import Style, lazy_pinyin

    return "".join(syllable[:1] for syllable in lazy_pinyin(name, style=Style.FIRST_LETTER, errors="default")).lower()


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def till_products(term: str, *, limit: int = TILL_PICK_LIMIT) -> list[Product]:
    """Active products whose SKU is the term (first), starts with it, or whose name contains it —
    or, for a term of Latin letters, whose name's pinyin initials start with it. At most two
    queries: the catalogue's names are read once for the pinyin match (initials are cached)."""
    term = (term or "").strip()
    if not term:
        return []
    products = Product.objects.filter(is_active=True).select_related("category")
    found = list(
        products.filter(Q(sku__iexact=term) | Q(sku__istartswith=term) | Q(name__icontains=term)).order_by("sku")[
            : limit * 2
        ]
    )
    found.sort(key=lambda product: (product.sku.lower() != term.lower(), product.sku))
    if term.isascii() and term.isalpha() and len(found) < limit:
        seen = {product.pk for product in found}
        prefix = term.lower()
        candidates = products.exclude(pk__in=seen).only("pk", "sku", "name", "unit_price", "category")
        found += [
            product
            for product in candidates.order_by("sku")
            if _has_cjk(product.name) and pinyin_initials(product.name).startswith(prefix)
        ]
    return found[:limit]


def till_product_by_sku(skus: list[str]) -> dict[str, Product]:
    """Active products by SKU (exact), in one query."""
    return {
        product.sku: product
        for product in Product.objects.filter(is_active=True, sku__in=set(skus)).select_related("category")
    }


# --- members and walk-in customers (issue 13) -----------------------------------------------


@dataclass(frozen=True)
class BuyerSales:
    """Sales of one kind of customer over a period: revenue is paid less refunded (money only)."""

    purchases: int
    revenue: Decimal
    buyers: int | None  # distinct members; None for walk-ins (anonymous)

    @property
    def average(self) -> Decimal | None:
        """The average purchase (revenue per purchase), or None without purchases."""
        if not self.purchases:
            return None
        return (self.revenue / self.purchases).quantize(Decimal("0.01"))

    @property
    def purchases_per_buyer(self) -> Decimal | None:
        if not self.buyers:
            return None
        return (Decimal(self.purchases) / self.buyers).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class MemberAndWalkInSales:
    members: BuyerSales
    walk_ins: BuyerSales


def member_and_walk_in_sales(*, start, end, store=None) -> MemberAndWalkInSales:
    """Members' purchases against walk-in sales (no member) ordered in [start, end), in one query:
    the comparison of average purchase and frequency between members and non-members."""
    purchases = Purchase.objects.filter(ordered_at__gte=start, ordered_at__lt=end)
    if store is not None:
        purchases = purchases.filter(store=store)
    money = DecimalField(max_digits=14, decimal_places=2)
    net = ExpressionWrapper(F("total") - F("refunded_total"), output_field=money)
    walk_in = Q(member__isnull=True)
    row = purchases.aggregate(
        member_count=Count("id", filter=~walk_in),
        member_revenue=Coalesce(Sum(net, filter=~walk_in), Value(Decimal("0.00")), output_field=money),
        member_buyers=Count("member_id", distinct=True),
        walk_in_count=Count("id", filter=walk_in),
        walk_in_revenue=Coalesce(Sum(net, filter=walk_in), Value(Decimal("0.00")), output_field=money),
    )
    return MemberAndWalkInSales(
        members=BuyerSales(row["member_count"], row["member_revenue"], row["member_buyers"]),
        walk_ins=BuyerSales(row["walk_in_count"], row["walk_in_revenue"], None),
    )


# --- the holiday calendar (members.Holiday, read through members.holidays) ---------------------

from members import holidays as holiday_rules  # noqa: E402
from members.models import Holiday  # noqa: E402


def holidays_between(start: datetime.date, end: datetime.date) -> list[holiday_rules.HolidayDate]:
    """The active holidays' dates from `start` to `end` inclusive (one query)."""
    return holiday_rules.occurrences(Holiday.objects.filter(is_active=True), start, end)


def public_days_off(start: datetime.date, end: datetime.date) -> set[datetime.date]:
    """The days from `start` to `end` that active public holidays close (support's business hours)."""
    return holiday_rules.days_off(Holiday.objects.filter(is_active=True, days_off__gt=0), start, end)


def recommended_products(member: Member) -> list:
    """The member's recommended products, best first, as last computed (one query)."""
    from members.models import ProductRecommendation

    return [
        row.product
        for row in ProductRecommendation.objects.filter(member=member).select_related("product").order_by("rank")
    ]


def recommended_names(member: Member, *, separator: str) -> str:
    """The recommended products' names joined by `separator` (the campaign's language: "、" in
    Chinese, ", " in English); "" when there is none."""
    return separator.join(product.name for product in recommended_products(member))


# --- important dates ------------------------------------------------------------------------------


def month_day_between(first: datetime.date, last: datetime.date, *, prefix: str = "") -> Q:
    """A condition on `month`/`day` columns (with `prefix`, e.g. "important_dates__") matching a
    date that falls from `first` to `last` inclusive in any year: one range per calendar month, so
    a window of any length is a handful of conditions. 29 February counts as 28 February in a
    common year."""
    condition = Q(pk__in=[])
    day = first
    while day <= last:
        month_end = (day.replace(day=28) + datetime.timedelta(days=4)).replace(day=1) - datetime.timedelta(days=1)
        end = min(month_end, last)
        condition |= Q(**{f"{prefix}month": day.month, f"{prefix}day__gte": day.day, f"{prefix}day__lte": end.day})
        if day.month == 2 and end.day == 28 and not calendar.isleap(day.year):
            condition |= Q(**{f"{prefix}month": 2, f"{prefix}day": 29})
        day = end + datetime.timedelta(days=1)
        if (day - first).days >= 366:
            break
    return condition


def important_dates_between(first: datetime.date, last: datetime.date) -> QuerySet[ImportantDate]:
    """The important dates of active members that fall from `first` to `last`, of members whose
    data-processing consent is granted (without it the dates are kept but not used)."""
    consented = Consent.objects.filter(
        member_id=OuterRef("member_id"), topic=ConsentTopic.DATA_PROCESSING, granted=True
    )
    return ImportantDate.objects.filter(
        month_day_between(first, last), Exists(consented), member__status=Member.Status.ACTIVE
    )


def members_with_important_date(
    queryset: QuerySet[Member], first: datetime.date, last: datetime.date
) -> QuerySet[Member]:
    """The members of `queryset` with an important date from `first` to `last` whose data-processing
    consent is granted (EXISTS subqueries, never a join, so a member appears once)."""
    dates = ImportantDate.objects.filter(month_day_between(first, last), member_id=OuterRef("pk"))
    consented = Consent.objects.filter(member_id=OuterRef("pk"), topic=ConsentTopic.DATA_PROCESSING, granted=True)
    return queryset.filter(Exists(dates), Exists(consented))


def important_dates_of(member: Member) -> list[ImportantDate]:
    """The member's important dates in calendar order (one query)."""
    return list(ImportantDate.objects.filter(member=member).order_by("month", "day", "pk"))


def important_date_on(member: Member, day: datetime.date) -> ImportantDate | None:
    """The member's important date that falls on `day` (29 February on 28 February of a common year)."""
    match = Q(month=day.month, day=day.day)
    if (day.month, day.day) == (2, 28) and not calendar.isleap(day.year):
        match |= Q(month=2, day=29)
    return ImportantDate.objects.filter(match, member=member).order_by("pk").first()


def overdue_against_usual_interval(*, factor, now) -> Q:
    """A condition on members: at least two counted purchases (not fully refunded), and the time
    since the last one exceeds `factor` × their mean gap between purchases ((last − first) / (n − 1)).
    One grouped subquery over purchases (`members._sql`)."""
    from members import _sql

    return Q(pk__in=_sql.members_overdue_against_interval(factor=factor, now=now))


# --- the store staff's home page ------------------------------------------------------------------

HOME_LIST_LIMIT = 8


@dataclass(frozen=True)
class MemberDate:
    """A member's birthday or important date on the home page: who, what, when (phone masked)."""

    member_id: int
    member_no: str
    name: str
    phone: str  # masked
    kind: str  # "birthday" or an ImportantDate.Kind value
    label: str  # the kind's words, or the staff's label for a custom date
    on: datetime.date


def _next_on_or_after(month: int, day: int, first: datetime.date) -> datetime.date:
    """The date with this month and day on or after `first` (29 February → 28 in a common year)."""
    for year in (first.year, first.year + 1):
        last = calendar.monthrange(year, month)[1]
        found = datetime.date(year, month, min(day, last))
        if found >= first:
            return found
    raise ValueError("no such date")  # pragma: no cover - a month/day recurs within a year


def store_member_dates(
    *, today: datetime.date, store=None, days: int = 7, limit: int = HOME_LIST_LIMIT
) -> list[MemberDate]:
    """Today's birthdays and the important dates of the next `days` days (today included) of the
    active members of `store` (None: every store), soonest first, at most `limit` of each.
    Important dates count only with data-processing consent (`important_dates_between`). Two queries."""
    from members import masking

    members = Member.objects.filter(status=Member.Status.ACTIVE)
    if store is not None:
        members = members.filter(home_store=store)
    born = list(
        members.filter(month_day_between(today, today, prefix="birth_"))
        .only("id", "member_no", "name", "phone", "birth_month", "birth_day")
        .order_by("name", "pk")[:limit]
    )
    dates = important_dates_between(today, today + datetime.timedelta(days=days - 1)).select_related("member")
    if store is not None:
        dates = dates.filter(member__home_store=store)
    upcoming = sorted(
        dates.only("id", "kind", "label", "month", "day", "member__id", "member__member_no", "member__name",
                   "member__phone"),
        key=lambda d: (_next_on_or_after(d.month, d.day, today), d.member.name, d.pk),
    )[:limit]  # fmt: skip
    found = [
        MemberDate(m.pk, m.member_no, m.name, masking.mask_phone(m.phone), "birthday", str(_("Birthday")), today)
        for m in born
    ]
    found += [
        MemberDate(
            d.member.pk,
            d.member.member_no,
            d.member.name,
            masking.mask_phone(d.member.phone),
            d.kind,
            d.label if d.kind == ImportantDate.Kind.CUSTOM and d.label else d.get_kind_display(),
            _next_on_or_after(d.month, d.day, today),
        )
        for d in upcoming
    ]
    return found


def open_service_records(*, store=None, limit: int = HOME_LIST_LIMIT) -> tuple[int, list[ServiceRecord]]:
    """How many service records of `store` (None: every store) are open or in progress, and the
    oldest `limit` of them with their member. Two queries."""
    records = ServiceRecord.objects.filter(status__in=[ServiceRecord.Status.OPEN, ServiceRecord.Status.IN_PROGRESS])
    if store is not None:
        records = records.filter(store=store)
    return records.count(), list(records.select_related("member").order_by("opened_at", "pk")[:limit])


# --- stores by code, held in each process (loyalty_crm.local_cache) ---------------------------

STORES_CACHE = "stores"


def _stores_by_code() -> dict[str, Store]:
    return {store.code: store for store in Store.objects.all()}


def store_by_code(code: str) -> Store | None:
    """The store with this code, or None. Every posting names its store: the stores (a shop has
    a few hundred at most) are held in each process and reloaded after a store is saved or deleted
    (`members.apps`), so a posting reads none of them from the database."""
    return local_cache.get(STORES_CACHE, _stores_by_code).get(code)
