"""The demo's members: a flower and gift shop chain's customers with three years of history.

Every member is drawn from its own `random.Random(f"{seed}:{index}")`, so the same seed gives
the same names, phones, birthdays, purchases and amounts whatever the batch size. Times are
placed before the start of the current day (Asia/Shanghai), so two runs on the same day match
to the second. The tables (stores, products, names, notes...) are files in `demo/data/`.

Rows are written with `bulk_create` in batches, the purchases through the loyalty hook
(`members.loyalty.record_purchases`: with `rewards`, in bulk and earning points, so balances,
tiers and ledgers are real); phone, email and birthday go through
`members.services.apply_contact_data` and the numbers through `members.services.new_member_numbers`,
so encryption, lookup hashes and numbering are exactly the services' own. Purchases are spread
over a normal background with peaks before Valentine's day, Qixi, Mother's day and the Spring
festival, whose dates come from `campaigns.holidays`.
"""

from __future__ import annotations

import datetime
import functools
import math
import random
import re
import zoneinfo
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from campaigns.holidays import holiday_date
from demo.data import document, table
from members import loyalty, services
from members.models import (
    Category,
    Consent,
    ConsentEvent,
    ConsentSource,
    ConsentTopic,
    ImportantDate,
    Interaction,
    Member,
    PaymentMethod,
    Preference,
    Product,
    Purchase,
    PurchaseItem,
    SalesChannel,
    ServiceRecord,
    Store,
    Tag,
)

HISTORY_REASON = "seed_demo"
# A date staff once typed as free text, e.g. "结婚纪念日 5月20日".
DATE_NOTE = re.compile(r"(?P<month>\d{1,2})月(?P<day>\d{1,2})日")
YEARS_OF_HISTORY = 3

# --- the calendar -----------------------------------------------------------------------------

BACKGROUND = "background"
VALENTINE = "valentine"
QIXI_DAY = "qixi"
MOTHERS_DAY = "mothers_day"
SPRING = "spring_festival"
# The demo's occasions and the `campaigns.holidays` holiday each one is.
HOLIDAYS = {VALENTINE: "valentines", QIXI_DAY: "qixi", MOTHERS_DAY: "mothers_day", SPRING: "spring_festival"}


def holidays(start: datetime.date, end: datetime.date) -> dict[str, list[datetime.date]]:
    """Each occasion's dates in [start, end), from `campaigns.holidays`."""
    found: dict[str, list[datetime.date]] = {occasion: [] for occasion in HOLIDAYS}
    for year in range(start.year, end.year + 1):
        for occasion, holiday in HOLIDAYS.items():
            day = holiday_date(holiday, year)
            if start <= day < end:
                found[occasion].append(day)
    return found


@dataclass(frozen=True)
class Tables:
    """The data files, shaped for drawing (weights as dicts in file order)."""

    occasion_weights: dict[str, int]
    lead_days: dict[str, tuple[list[int], list[int]]]
    main_categories: dict[str, dict[str, int]]
    card_for: dict[str, str]
    add_on_categories: dict[str, int]
    surnames: str
    surname_weights: list[float]
    people: dict
    records: dict


@functools.cache
def tables() -> Tables:
    calendar, people = document("calendar"), document("people")
    return Tables(
        occasion_weights=calendar["occasion_weights"],
        lead_days={key: (value["days"], value["weights"]) for key, value in calendar["lead_days"].items()},
        main_categories=calendar["main_categories"],
        card_for=calendar["card_for"],
        add_on_categories=calendar["add_on_categories"],
        surnames=people["surnames"],
        surname_weights=[1 / (rank + 4) for rank in range(len(people["surnames"]))],
        people=people,
        records=document("records"),
    )


@dataclass
class MemberCounts:
    members: int = 0
    purchases: int = 0
    purchase_items: int = 0
    service_records: int = 0
    interactions: int = 0
    preferences: int = 0
    consent_events: int = 0
    important_dates: int = 0


# --- the catalogue ----------------------------------------------------------------------------


@dataclass
class Catalogue:
    stores: list[Store]
    store_weights: list[int]
    categories: dict[str, Category]
    products: dict[str, Product]
    by_category: dict[str, list[Product]]
    tags: dict[str, Tag]  # by key (data/people.json "tags"): vip, corporate, wedding, workshop, festive


def ensure_catalogue() -> Catalogue:
    """Stores, categories, products and tags of the demo shop (existing rows are kept as they are)."""
    stores = []
    for row in table("stores"):
        store, _created = Store.objects.get_or_create(
            code=row["code"],
            defaults={"name": row["name"], "city": row["city"], "address": row["address"], "phone": row["phone"]},
        )
        stores.append(store)
    categories = {
        row["code"]: Category.objects.get_or_create(code=row["code"], defaults={"name": row["name"]})[0]
        for row in table("categories")
    }
    products: dict[str, Product] = {}
    by_category: dict[str, list[Product]] = {code: [] for code in categories}
    for row in table("products"):
        product, _created = Product.objects.get_or_create(
            sku=row["sku"],
            defaults={
                "name": row["name"],
                "category": categories[row["category"]],
                "unit_price": Decimal(row["price"]),
            },
        )
        products[row["sku"]] = product
        by_category[row["category"]].append(product)
    tags = {key: Tag.objects.get_or_create(name=name)[0] for key, name in tables().people["tags"].items()}
    return Catalogue(stores, [int(row["weight"]) for row in table("stores")], categories, products, by_category, tags)


# --- generation -------------------------------------------------------------------------------


def _weighted(rng: random.Random, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


@dataclass
class _Plan:
    """One member as drawn from their own random stream, before it is written."""

    rng: random.Random
    name: str
    gender: str
    phone: str
    email: str | None
    birthday: datetime.date | None
    store_index: int
    registered_at: datetime.datetime
    source_channel: str
    status: str
    corporate: bool
    wedding: bool
    notes: str
    spend_rate: float  # purchases a year


class DemoGenerator:
    def __init__(self, *, seed: int, catalogue: Catalogue, users: dict[str, object]):
        self.seed = seed
        self.catalogue = catalogue
        self.users = users
        self.tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        today = timezone.localdate()
        # Everything happens before today began, so runs on the same day give identical rows.
        self.horizon = datetime.datetime.combine(today, datetime.time(0, 0), tzinfo=self.tz)
        self.first_day = today - datetime.timedelta(days=round(365.25 * YEARS_OF_HISTORY))
        self.phones: set[str] = set()
        self.earlier: list[tuple[int, datetime.datetime]] = []  # (pk, registered_at) of created members
        self.counts = MemberCounts()
        self.t = tables()

    # -- time

    def _at(self, day: datetime.date, rng: random.Random) -> datetime.datetime:
        """A moment in opening hours (09:00–21:59) of a day."""
        return datetime.datetime.combine(day, datetime.time(rng.randint(9, 21), rng.randint(0, 59)), tzinfo=self.tz)

    def _between(self, rng: random.Random, start: datetime.datetime, end: datetime.datetime) -> datetime.datetime:
        """A moment in opening hours between two times (clamped to them)."""
        first = start.astimezone(self.tz).date()
        last = (end - datetime.timedelta(seconds=1)).astimezone(self.tz).date()
        day = first + datetime.timedelta(days=rng.randint(0, max(0, (last - first).days)))
        return min(max(self._at(day, rng), start), end - datetime.timedelta(minutes=1))

    # -- people

    def _phone(self, rng: random.Random) -> str:
        while True:
            phone = rng.choice(self.t.people["mobile_prefixes"]) + f"{rng.randrange(10**8):08d}"
            if phone not in self.phones:
                self.phones.add(phone)
                return phone

    def plan(self, index: int) -> _Plan:
        rng = random.Random(f"{self.seed}:{index}")
        gender = rng.choices([Member.Gender.FEMALE, Member.Gender.MALE, Member.Gender.UNKNOWN], weights=[62, 33, 5])[0]
        surname = (
            rng.choice(self.t.people["compound_surnames"])
            if rng.random() < 0.01
            else rng.choices(self.t.surnames, weights=self.t.surname_weights)[0]
        )
        chars = self.t.people["male_chars" if gender == Member.Gender.MALE else "female_chars"]
        given = "".join(rng.choice(chars) for _i in range(rng.choices([1, 2], weights=[3, 7])[0]))
        phone = self._phone(rng)
        email = None
        if rng.random() < 0.4:
            domains = self.t.people["email_domains"]
            domain = rng.choices(["qq.com", *domains], weights=[35, *domains.values()])[0]
            if domain == "qq.com":
                email = f"{rng.randint(10**5, 3 * 10**9)}@qq.com"
            else:
                handle = rng.choice(self.t.people["email_handles"])
                email = f"{handle}{rng.choice(['', '.', '_'])}{rng.randint(1, 9999)}@{domain}"
        birthday = None
        if rng.random() < 0.7:
            age = rng.randint(18, 68)
            birthday = datetime.date(self.horizon.year - age, 1, 1) + datetime.timedelta(days=rng.randint(0, 364))
        store_index = rng.choices(range(len(self.catalogue.stores)), weights=self.catalogue.store_weights)[0]
        if index % 40 == 3:
            # One member in forty shops at the first store and was born on the demo's first day, so the
            # clerk's home page has birthdays to greet (set after every random draw: the other members
            # are what they always were).
            store_index = 0
            born = birthday or datetime.date(self.horizon.year - 35, 1, 1)
            birthday = born.replace(month=self.horizon.month, day=min(self.horizon.day, 28))
        first_moment = datetime.datetime.combine(self.first_day, datetime.time(), tzinfo=self.tz)
        registered_at = self._between(rng, first_moment, self.horizon)
        source_channel = rng.choices(
            [
                Member.SourceChannel.STORE,
                Member.SourceChannel.WECHAT,
                Member.SourceChannel.ONLINE,
                Member.SourceChannel.REFERRAL,
                Member.SourceChannel.EVENT,
                Member.SourceChannel.IMPORT,
            ],
            weights=[55, 20, 12, 5, 3, 5],
        )[0]
        corporate = rng.random() < 0.04
        wedding = rng.random() < 0.03
        notes = ""
        if corporate:
            notes = rng.choice(self.t.people["corporate_notes"])
        elif rng.random() < 0.1:
            notes = rng.choice(self.t.people["member_notes"])
        segment = rng.random()
        spend_rate = 6.0 if segment < 0.2 else 2.0 if segment < 0.7 else 0.7
        if corporate:
            spend_rate *= 1.5
        return _Plan(
            rng=rng,
            name=surname + given,
            gender=gender,
            phone=phone,
            email=email,
            birthday=birthday,
            store_index=store_index,
            registered_at=registered_at,
            source_channel=source_channel,
            status=Member.Status.FROZEN if rng.random() < 0.01 else Member.Status.ACTIVE,
            corporate=corporate,
            wedding=wedding,
            notes=notes,
            spend_rate=spend_rate,
        )

    # -- writing

    def write_batch(self, start: int, count: int) -> None:
        plans = [self.plan(index) for index in range(start, start + count)]
        members = []
        for plan, (member_no, referral_code) in zip(plans, services.new_member_numbers(len(plans)), strict=True):
            member = Member(
                member_no=member_no,
                referral_code=referral_code,
                name=plan.name,
                gender=plan.gender,
                home_store=self.catalogue.stores[plan.store_index],
                status=plan.status,
                registered_at=plan.registered_at,
                source_channel=plan.source_channel,
                notes=plan.notes,
            )
            if plan.source_channel == Member.SourceChannel.IMPORT:
                member.external_id = "POS" + member_no[1:]
            if plan.source_channel == Member.SourceChannel.REFERRAL:
                member.referred_by_id = self._referrer(plan)
            services.apply_contact_data(member, phone=plan.phone, email=plan.email, birthday=plan.birthday)
            member._history_date = plan.registered_at
            members.append(member)
        self._free_phones(plans, members)
        bulk_create_with_history(members, Member, default_change_reason=HISTORY_REASON)
        self.earlier.extend((member.pk, member.registered_at) for member in members)
        self.counts.members += len(members)

        rows: dict[type, list] = {
            model: [] for model in (Consent, ConsentEvent, ServiceRecord, Interaction, Preference, ImportantDate)
        }
        purchases: list[Purchase] = []
        items: list[PurchaseItem] = []
        tag_links = []
        for plan, member in zip(plans, members, strict=True):
            member_purchases, member_items = self._purchases(plan, member)
            purchases += member_purchases
            items += member_items
            self._consents(plan, member, rows)
            self._service_records(plan, member, member_purchases, member_items, rows)
            attended = self._interactions(plan, member, len(member_purchases), rows)
            self._preferences(plan, member, member_items, rows)
            tag_links += self._tags(plan, member, member_purchases, attended)
        # Through the loyalty hook: with `rewards` installed the purchases earn their points and
        # move tiers exactly as postings do (in bulk), so balances, tiers and ledgers are real.
        loyalty.record_purchases(self._drafts(purchases, items))
        for model, objects in rows.items():
            model.objects.bulk_create(objects)
        Member.tags.through.objects.bulk_create(tag_links)
        self.counts.purchases += len(purchases)
        self.counts.purchase_items += len(items)
        self.counts.consent_events += len(rows[ConsentEvent])
        self.counts.service_records += len(rows[ServiceRecord])
        self.counts.interactions += len(rows[Interaction])
        self.counts.preferences += len(rows[Preference])
        self.counts.important_dates += len(rows[ImportantDate])

    @staticmethod
    def _drafts(purchases: list[Purchase], items: list[PurchaseItem]) -> list[services.PurchaseDraft]:
        lines: dict[int, list[services.PurchaseLine]] = {id(purchase): [] for purchase in purchases}
        for item in items:
            lines[id(item.purchase)].append(
                services.PurchaseLine(
                    sku=item.sku,
                    quantity=item.quantity,
                    unit_price=item.unit_price,
                    name=item.name,
                    discount=item.discount,
                )
            )
        return [
            services.PurchaseDraft(
                member=purchase.member,
                external_ref=purchase.external_ref,
                ordered_at=purchase.ordered_at,
                items=lines[id(purchase)],
                store=purchase.store,
                channel=purchase.channel,
                payment_method=purchase.payment_method,
                total=purchase.total,
            )
            for purchase in purchases
        ]

    def _free_phones(self, plans: Sequence[_Plan], members: Sequence[Member]) -> None:
        """Redraw the phones that members outside this run already have (rare: only when not empty)."""
        while True:
            taken = set(
                Member.objects.filter(phone_hash__in=[m.phone_hash for m in members]).values_list(
                    "phone_hash", flat=True
                )
            )
            if not taken:
                return
            for plan, member in zip(plans, members, strict=True):
                if member.phone_hash in taken:
                    plan.phone = self._phone(plan.rng)
                    services.apply_contact_data(member, phone=plan.phone)

    def _referrer(self, plan: _Plan) -> int | None:
        for _attempt in range(3):
            if not self.earlier:
                return None
            pk, registered_at = self.earlier[plan.rng.randrange(len(self.earlier))]
            if registered_at < plan.registered_at:
                return pk
        return None

    def _purchase_moment(self, plan: _Plan, calendar: dict[str, list[datetime.date]]):
        rng = plan.rng
        occasion = _weighted(rng, self.t.occasion_weights)
        if occasion != BACKGROUND and calendar[occasion]:
            day = rng.choice(calendar[occasion])
            days, weights = self.t.lead_days[occasion]
            moment = self._at(day - datetime.timedelta(days=rng.choices(days, weights=weights)[0]), rng)
            if plan.registered_at <= moment < self.horizon:
                return occasion, moment
        return BACKGROUND, self._between(rng, plan.registered_at, self.horizon)

    def _purchases(self, plan: _Plan, member: Member) -> tuple[list[Purchase], list[PurchaseItem]]:
        rng = plan.rng
        years = (self.horizon - plan.registered_at).total_seconds() / (365.25 * 86400)
        count = min(_poisson(rng, plan.spend_rate * years), 40)
        if count == 0 and rng.random() < 0.6:
            count = 1  # most people join at a purchase
        calendar = holidays(plan.registered_at.astimezone(self.tz).date(), self.horizon.date())
        moments = []
        for index in range(count):
            if index == 0 and rng.random() < 0.6:
                joined = plan.registered_at + datetime.timedelta(minutes=rng.randint(2, 30))
                moments.append((BACKGROUND, min(joined, self.horizon - datetime.timedelta(minutes=1))))
            else:
                moments.append(self._purchase_moment(plan, calendar))
        moments.sort(key=lambda pair: pair[1])
        purchases, items = [], []
        home = self.catalogue.stores[plan.store_index]
        for number, (occasion, moment) in enumerate(moments, start=1):
            channel = rng.choices(
                [SalesChannel.STORE, SalesChannel.WECHAT, SalesChannel.ONLINE, SalesChannel.PHONE],
                weights=[58, 20, 15, 7],
            )[0]
            store = home if rng.random() < 0.8 else rng.choices(self.catalogue.stores, self.catalogue.store_weights)[0]
            lines = self._lines(rng, occasion, plan.corporate)
            subtotal = sum((line.unit_price * line.quantity for line in lines), Decimal("0.00"))
            line_discounts = sum((line.discount for line in lines), Decimal("0.00"))
            paid = subtotal - line_discounts
            if paid >= 300 and rng.random() < 0.3:
                paid -= Decimal("30.00")  # 满300减30
            purchase = Purchase(
                member=member,
                external_ref=f"D{member.member_no[1:]}-{number:02d}",
                store=store,
                channel=channel,
                payment_method=_payment(rng, channel),
                ordered_at=moment,
                subtotal=subtotal,
                discount_total=subtotal - paid,
                total=paid,
            )
            purchase.occasion = occasion  # for the records below; not a field
            for line in lines:
                line.purchase = purchase
            purchases.append(purchase)
            items += lines
        return purchases, items

    def _lines(self, rng: random.Random, occasion: str, corporate: bool) -> list[PurchaseItem]:
        by_category = self.catalogue.by_category
        chosen = [rng.choice(by_category[_weighted(rng, self.t.main_categories[occasion])])]
        for _extra in range(rng.choices([0, 1, 2, 3], weights=[55, 28, 12, 5])[0]):
            if rng.random() < 0.5:
                product = self.catalogue.products[self.t.card_for[occasion]]
            else:
                product = rng.choice(by_category[_weighted(rng, self.t.add_on_categories)])
            if product not in chosen:
                chosen.append(product)
        lines = []
        for index, product in enumerate(chosen):
            quantity = 1
            if index == 0 and corporate and rng.random() < 0.5:
                quantity = rng.randint(2, 20)
            elif product.category_id != self.catalogue.categories["cards"].pk and rng.random() < 0.08:
                quantity = 2
            gross = product.unit_price * quantity
            discount = (gross * Decimal("0.10")).quantize(Decimal("0.01")) if rng.random() < 0.15 else Decimal("0.00")
            lines.append(
                PurchaseItem(
                    product=product,
                    sku=product.sku,
                    name=product.name,
                    category=product.category,
                    quantity=quantity,
                    unit_price=product.unit_price,
                    discount=discount,
                    line_total=gross - discount,
                )
            )
        return lines

    def _consents(self, plan: _Plan, member: Member, rows: dict) -> None:
        rng = plan.rng
        imported = plan.source_channel == Member.SourceChannel.IMPORT
        source = ConsentSource.IMPORT if imported else ConsentSource.ADMIN
        actor = None if imported else self.users["staff"]
        wanted = {
            ConsentTopic.DATA_PROCESSING: rng.random() < 0.97,
            ConsentTopic.MARKETING_SMS: rng.random() < 0.55,
            ConsentTopic.MARKETING_WECHAT: rng.random() < 0.6,
            ConsentTopic.MARKETING_EMAIL: bool(plan.email) and rng.random() < 0.5,
        }
        for topic, granted in wanted.items():
            at = plan.registered_at
            rows[ConsentEvent].append(
                ConsentEvent(member=member, topic=topic, granted=granted, at=at, actor=actor, source=source)
            )
            if granted and topic != ConsentTopic.DATA_PROCESSING and rng.random() < 0.08:
                at = self._between(rng, plan.registered_at, self.horizon)
                granted = False  # withdrawn later, at the desk
                rows[ConsentEvent].append(
                    ConsentEvent(
                        member=member,
                        topic=topic,
                        granted=False,
                        at=at,
                        actor=self.users["staff"],
                        source=ConsentSource.ADMIN,
                    )
                )
            rows[Consent].append(Consent(member=member, topic=topic, granted=granted, updated_at=at))

    def _service_status(self, rng: random.Random, opened_at: datetime.datetime, hours: tuple[int, int]):
        if self.horizon - opened_at < datetime.timedelta(days=14) and rng.random() < 0.6:
            return rng.choice([ServiceRecord.Status.OPEN, ServiceRecord.Status.IN_PROGRESS]), None
        closed_at = min(opened_at + datetime.timedelta(hours=rng.randint(*hours)), self.horizon)
        status = ServiceRecord.Status.CANCELLED if rng.random() < 0.04 else ServiceRecord.Status.DONE
        return status, closed_at

    def _service_records(self, plan, member, purchases, items, rows) -> None:
        rng = plan.rng
        support, staff = self.users["support"], self.users["staff"]
        first_item = {}
        for item in items:
            first_item.setdefault(id(item.purchase), item)

        def add(kind, summary, opened_at, store, person, details="", hours=(2, 72)):
            status, closed_at = self._service_status(rng, opened_at, hours)
            rows[ServiceRecord].append(
                ServiceRecord(
                    member=member,
                    kind=kind,
                    status=status,
                    store=store,
                    staff=person,
                    summary=summary,
                    details=details,
                    opened_at=opened_at,
                    closed_at=closed_at,
                )
            )

        for purchase in purchases:
            remote = purchase.channel != SalesChannel.STORE
            if rng.random() < (0.7 if remote else 0.12):
                item = first_item[id(purchase)]
                add(
                    ServiceRecord.Kind.DELIVERY,
                    f"配送：{item.name}",
                    purchase.ordered_at,
                    purchase.store,
                    staff,
                    details=f"由{purchase.store.name}配送，{purchase.store.city}市内当日达",
                    hours=(2, 8),
                )
            if rng.random() < 0.03:
                complaint = rng.choice(self.t.records["complaints"])
                summary, resolution = complaint["summary"], complaint["resolution"]
                opened = min(purchase.ordered_at + datetime.timedelta(hours=rng.randint(3, 48)), self.horizon)
                add(ServiceRecord.Kind.COMPLAINT, summary, opened, purchase.store, support, details=resolution)
            item = first_item[id(purchase)]
            if item.category.code == "green-plants" and rng.random() < 0.05:
                opened = min(purchase.ordered_at + datetime.timedelta(days=rng.randint(3, 10)), self.horizon)
                add(
                    ServiceRecord.Kind.CARE_CLAIM,
                    f"{item.name}到家一周内叶片发黄",
                    opened,
                    purchase.store,
                    support,
                    details="按绿植养护承诺免费更换",
                )
        home = self.catalogue.stores[plan.store_index]
        if plan.wedding:
            for _i in range(rng.randint(1, 2)):
                opened = self._between(rng, plan.registered_at, self.horizon)
                add(ServiceRecord.Kind.CONSULTATION, "婚礼花艺方案咨询", opened, home, staff, hours=(1, 240))
        elif rng.random() < 0.04:
            opened = self._between(rng, plan.registered_at, self.horizon)
            add(
                ServiceRecord.Kind.CONSULTATION,
                rng.choice(self.t.records["consultations"]),
                opened,
                home,
                staff,
                hours=(1, 48),
            )
        if rng.random() < 0.01:
            opened = self._between(rng, plan.registered_at, self.horizon)
            add(ServiceRecord.Kind.REPAIR, rng.choice(self.t.records["repairs"]), opened, home, staff, hours=(24, 240))

    def _interactions(self, plan: _Plan, member: Member, purchase_count: int, rows: dict) -> int:
        rng = plan.rng
        home = self.catalogue.stores[plan.store_index]
        events = 0
        for _i in range(min(_poisson(rng, 1.0 + 0.25 * purchase_count), 12)):
            kind = _weighted(rng, self.t.records["interaction_weights"])
            entry = rng.choice(self.t.records["interactions"][kind])
            channel, direction, summary = entry["channel"], entry["direction"], entry["summary"]
            events += kind == Interaction.Kind.EVENT
            rows[Interaction].append(
                Interaction(
                    member=member,
                    kind=kind,
                    channel=channel,
                    direction=direction,
                    summary=summary,
                    occurred_at=self._between(rng, plan.registered_at, self.horizon),
                    store=home if channel == Interaction.Channel.STORE else None,
                    staff=self.users["staff"] if direction == Interaction.Direction.OUTBOUND else None,
                )
            )
        return events

    def _preferences(self, plan: _Plan, member: Member, items: list[PurchaseItem], rows: dict) -> None:
        rng = plan.rng
        prefs = rows[Preference]
        if items and rng.random() < 0.55:
            favourite = Counter(item.category.code for item in items).most_common(1)[0][0]
            prefs.append(
                Preference(
                    member=member,
                    kind=Preference.Kind.FAVOURITE_CATEGORY,
                    category=self.catalogue.categories[favourite],
                )
            )
        if items and rng.random() < 0.15:
            prefs.append(Preference(member=member, kind=Preference.Kind.FAVOURITE_PRODUCT, product=items[0].product))
        records = self.t.records
        channels = records["preferred_channels"]
        for kind, values, share in (
            (Preference.Kind.COLOUR, records["colours"], 0.4),
            (Preference.Kind.STYLE, records["styles"], 0.25),
            (Preference.Kind.CONTACT_TIME, records["contact_times"], 0.35),
            (Preference.Kind.PREFERRED_CHANNEL, channels if plan.email else channels[:3], 0.35),
        ):
            if rng.random() < share:
                prefs.append(Preference(member=member, kind=kind, value=rng.choice(values)))
        if rng.random() < 0.08:
            custom = rng.choice(self.t.records["custom_preferences"])
            key, value = custom["key"], custom["value"]
            written = DATE_NOTE.search(value) if key == "纪念日" else None
            if written is None:
                prefs.append(Preference(member=member, kind=Preference.Kind.CUSTOM, key=key, value=value))
            elif self._may_keep_dates(member, rows):
                # Once free text ("结婚纪念日 5月20日"); now a date the greetings and segments can use.
                month, day = int(written["month"]), int(written["day"])
                rows[ImportantDate].append(ImportantDate(member=member, kind=ImportantDate.Kind.ANNIVERSARY,
                                                         month=month, day=day))  # fmt: skip
        self._important_dates(plan, member, rows)

    @staticmethod
    def _may_keep_dates(member: Member, rows: dict) -> bool:
        """The member granted data processing (their consent rows are already drawn)."""
        return any(
            c.member is member and c.topic == ConsentTopic.DATA_PROCESSING and c.granted for c in rows[Consent][-4:]
        )

    def _important_dates(self, plan: _Plan, member: Member, rows: dict) -> None:
        """Anniversaries and partners' birthdays for about one member in eight, and for every member
        whose note says they order flowers for their wedding anniversary; drawn from a generator of
        their own, so the rest of the demo shop is the same with or without them."""
        rng = random.Random(f"important-dates:{plan.phone}")
        wanted = "纪念日" in plan.notes or rng.random() < 0.12
        if not wanted or not self._may_keep_dates(member, rows):
            return
        if any(d.member is member for d in rows[ImportantDate][-1:]):
            return  # the 纪念日 note already became a date
        kind = ImportantDate.Kind.ANNIVERSARY if "纪念日" in plan.notes or rng.random() < 0.6 else (
            ImportantDate.Kind.PARTNER_BIRTHDAY)  # fmt: skip
        day = datetime.date(2024, 1, 1) + datetime.timedelta(days=rng.randrange(366))
        year = str(rng.randint(1995, 2023)) if rng.random() < 0.5 else ""
        rows[ImportantDate].append(ImportantDate(member=member, kind=kind, month=day.month, day=day.day, year=year))

    def _tags(self, plan: _Plan, member: Member, purchases: list[Purchase], events: int) -> list:
        tags = self.catalogue.tags
        names = []
        if sum((p.total for p in purchases), Decimal("0")) >= Decimal("5000"):
            names.append("vip")
        if plan.corporate:
            names.append("corporate")
        if plan.wedding:
            names.append("wedding")
        if events:
            names.append("workshop")
        if sum(p.occasion != BACKGROUND for p in purchases) >= 3:
            names.append("festive")
        through = Member.tags.through
        return [through(member_id=member.pk, tag_id=tags[name].pk) for name in names]


def _payment(rng: random.Random, channel: str) -> str:
    if channel == SalesChannel.STORE:
        options = {
            PaymentMethod.WECHAT_PAY: 45,
            PaymentMethod.ALIPAY: 30,
            PaymentMethod.CARD: 12,
            PaymentMethod.CASH: 8,
            PaymentMethod.STORED_VALUE: 5,
        }
    elif channel == SalesChannel.WECHAT:
        options = {PaymentMethod.WECHAT_PAY: 90, PaymentMethod.STORED_VALUE: 10}
    else:
        options = {PaymentMethod.ALIPAY: 50, PaymentMethod.WECHAT_PAY: 45, PaymentMethod.CARD: 5}
    return _weighted(rng, options)
