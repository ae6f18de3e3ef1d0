"""Segments: saved rule sets that pick members (docs/api.md "Segments, campaigns and contact policy").

Rules are a dict; every key is optional (absent = any) and the keys are ANDed. Within a key that
takes a list, any listed value matches:

- `classification`: [codes] — the member's class from the last classification run (a member not
  yet classified counts as `no_purchases`).
- `tiers`: [tier codes] — the current tier (from `rewards`).
- `stores`: [store codes] — the home store.
- `tags`: [tag names] — has at least one of the tags.
- `min_spend_12m`: decimal — spend in the window of the last classification run, at least this.
- `last_purchase_after` / `last_purchase_before`: "YYYY-MM-DD" — the last (not fully refunded)
  purchase was on or after / on or before that day, from the purchases as they are now.
- `birthday_month`: 1–12, or a list of months.
- `consented_channel`: "email" | "sms" | "wechat" — marketing consent on that channel granted now.

What members bought, like and are predicted to do (issue 18). "Counted" purchases are the ones not
fully refunded, and a line counts while some of its quantity is not returned; "within N days" means
ordered on or after the start of the day N days before today (local time):

- `bought_product`: {"product": SKU, "within_days"?: 1–3650} — a counted line of that product, ever
  or within the last N days.
- `bought_category`: {"category": code, "within_days"?: 1–3650} — a counted line in that category or
  any category under it (up to four levels down), ever or within N days.
- `not_bought_category_days`: {"category": code, "days": 1–3650} — bought in the category (with its
  children) before, but not within the last N days: the lapsed buyers of that category.
- `favourite_category`: [category codes] — a favourite-category preference for one of them (or a
  category under it); `colour`, `style`, `preferred_channel`: [values] — a preference of that kind
  whose value is one of them (case-insensitive).
- `churn_risk_min` / `churn_risk_max`: fraction 0–1 — the churn risk of the last classification
  run (`MemberScore.churn_risk`) at least / at most this; members without a score are left out.
- `clv_min` / `clv_max`: amount — the CLV estimate of the last run at least / at most this.
- `predicted_purchases_min`: number — purchases expected over the CLV horizon, at least this.
- `important_date_within_days`: 0–366 — one of the member's important dates (anniversary, partner's
  birthday, custom) falls from today to today + N days; only dates of members whose data-processing
  consent is granted count.
- `has_valid_coupon`: true | false — holds (or does not hold) an issued coupon valid now (started,
  not expired, not used or void).
- `points_balance_min` / `points_balance_max`: points — the current balance (0 without an account).
- `points_expiring_within_days`: N or {"days": 0–366, "min_points"?: ≥ 1} — points left in lots that
  expire from today to today + N days, at least `min_points` (1 by default) in all.
- `paid_plan`: true | false — holds (or does not) a paid membership in force today.
- `event_attended`: {"event"?: id, "within_days"?: 1–3650} — checked in at a member event (that
  one, or any), ever or within the last N days (`campaigns.selectors.attended_member_ids`).
- `stored_value_balance_min`: amount — stored value (principal + bonus) at least this.

Each key adds one condition (a column filter or an EXISTS / scalar subquery) to the single query
that counts or lists a segment.

Only active members are in a segment (never frozen or erased ones). `validate_rules` returns the
clean rules or raises a ValidationError naming each bad key; `segment_members` turns clean rules
into a queryset (the dispatch of campaigns resolves audiences with it). This module only reads;
segments are saved and recounted by `campaigns.services.segments`.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import connections, router
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import Classification, Event, MemberScore, Segment
from campaigns.selectors.events import attended_member_ids
from members import loyalty
from members.models import (
    Category,
    Member,
    Preference,
    Product,
    Purchase,
    PurchaseItem,
    PurchaseSummary,
    Store,
    Tag,
)
from members.selectors import MARKETING_CHANNELS, members_with_important_date, members_with_marketing_consent
from rewards.models import Coupon, MembershipSubscription, PointsAccount, PointsLot, StoredValueAccount, Tier
from rewards.selectors import members_in_tiers

RULE_KEYS = (
    "classification",
    "tiers",
    "stores",
    "tags",
    "min_spend_12m",
    "last_purchase_after",
    "last_purchase_before",
    "birthday_month",
    "consented_channel",
    "bought_product",
    "bought_category",
    "not_bought_category_days",
    "favourite_category",
    "colour",
    "style",
    "preferred_channel",
    "churn_risk_min",
    "churn_risk_max",
    "clv_min",
    "clv_max",
    "predicted_purchases_min",
    "important_date_within_days",
    "has_valid_coupon",
    "points_balance_min",
    "points_balance_max",
    "points_expiring_within_days",
    "paid_plan",
    "stored_value_balance_min",
    "event_attended",
)
PREFERENCE_KEYS = ("colour", "style", "preferred_channel")
MAX_DAYS = 3650
CATEGORY_DEPTH = 4
CHANNELS = tuple(MARKETING_CHANNELS)


def _string_list(value, key: str, errors: dict) -> list[str] | None:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v.strip() for v in value):
        errors[key] = _("Give a list of values.")
        return None
    return sorted({v.strip() for v in value})


def _known(values: list[str], known: set[str], key: str, errors: dict, what: str) -> None:
    unknown = [v for v in values if v not in known]
    if unknown:
        errors[key] = _("Unknown %(what)s: %(values)s.") % {"what": what, "values": ", ".join(unknown)}


def _date(value, key: str, errors: dict) -> datetime.date | None:
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        errors[key] = _("Give a date as YYYY-MM-DD.")
        return None


def validate_rules(rules) -> dict:
    """The rules in canonical form (sorted lists, ISO dates, decimal strings; empty keys dropped),
    or a ValidationError whose dict names every bad key."""
    if rules is None:
        return {}
    if not isinstance(rules, dict):
        raise ValidationError({"rules": _("Rules must be an object of rule keys.")})
    errors: dict[str, str] = {}
    clean: dict = {}
    for key in rules:
        if key not in RULE_KEYS:
            errors[key] = _("Unknown rule. Known rules: %(keys)s.") % {"keys": ", ".join(RULE_KEYS)}
    present = {key: value for key, value in rules.items() if key in RULE_KEYS and value not in (None, "", [])}

    if "classification" in present:
        values = _string_list(present["classification"], "classification", errors)
        if values is not None:
            _known(values, set(Classification.values), "classification", errors, _("classification"))
            clean["classification"] = values
    if "tiers" in present:
        values = _string_list(present["tiers"], "tiers", errors)
        if values is not None:
            known = set(Tier.objects.filter(code__in=values).values_list("code", flat=True))
            _known(values, known, "tiers", errors, _("tier"))
            clean["tiers"] = values
    if "stores" in present:
        values = _string_list(present["stores"], "stores", errors)
        if values is not None:
            known = set(Store.objects.filter(code__in=values).values_list("code", flat=True))
            _known(values, known, "stores", errors, _("store"))
            clean["stores"] = values
    if "tags" in present:
        values = _string_list(present["tags"], "tags", errors)
        if values is not None:
            known = set(Tag.objects.filter(name__in=values).values_list("name", flat=True))
            _known(values, known, "tags", errors, _("tag"))
            clean["tags"] = values
    if "min_spend_12m" in present:
        value = present["min_spend_12m"]
        try:
            amount = Decimal(str(value)) if not isinstance(value, bool) else None
        except InvalidOperation:
            amount = None
        if amount is None or not amount.is_finite() or amount < 0:
            errors["min_spend_12m"] = _("Give an amount of 0 or more.")
        else:
            clean["min_spend_12m"] = str(amount.quantize(Decimal("0.01")))
    dates = {}
    for key in ("last_purchase_after", "last_purchase_before"):
        if key in present:
            day = _date(present[key], key, errors)
            if day is not None:
                dates[key] = day
                clean[key] = day.isoformat()
    if len(dates) == 2 and dates["last_purchase_after"] > dates["last_purchase_before"]:
        errors["last_purchase_before"] = _("Must be on or after the date in last_purchase_after.")
    if "birthday_month" in present:
        value = present["birthday_month"]
        months = value if isinstance(value, list | tuple) else [value]
        try:
            numbers = sorted({int(m) for m in months if not isinstance(m, bool)})
        except (TypeError, ValueError):
            numbers = []
        if not numbers or len(numbers) != len(months) or any(not 1 <= m <= 12 for m in numbers):
            errors["birthday_month"] = _("Give a month from 1 to 12, or a list of months.")
        else:
            clean["birthday_month"] = numbers[0] if len(numbers) == 1 else numbers
    if "consented_channel" in present:
        value = present["consented_channel"]
        if value not in CHANNELS:
            errors["consented_channel"] = _("Unknown channel. Known channels: %(channels)s.") % {
                "channels": ", ".join(CHANNELS)
            }
        else:
            clean["consented_channel"] = value
    _validate_behaviour(present, clean, errors)
    if errors:
        raise ValidationError(errors)
    return clean


def _whole(value, key: str, errors: dict, low: int, high: int) -> int | None:
    """A whole number from `low` to `high` (a JSON number or its digits), else an error on `key`."""
    number = None
    if not isinstance(value, bool):
        try:
            number = int(value) if isinstance(value, int) or str(value).strip().lstrip("-").isdigit() else None
        except (TypeError, ValueError):
            number = None
    if number is None or not low <= number <= high:
        errors[key] = _("Give a whole number from %(low)d to %(high)d.") % {"low": low, "high": high}
        return None
    return number


def _decimal(value, key: str, errors: dict, message: str) -> Decimal | None:
    try:
        amount = Decimal(str(value)) if not isinstance(value, bool) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount < 0:
        errors[key] = message
        return None
    return amount


def _flag(value, key: str, errors: dict) -> bool | None:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    errors[key] = _("Give true or false.")
    return None


def _category(value, key: str, errors: dict) -> str | None:
    if not isinstance(value, str) or not value.strip():
        errors[key] = _("Give a category code.")
        return None
    code = value.strip()
    if not Category.objects.filter(code=code).exists():
        errors[key] = _("Unknown %(what)s: %(values)s.") % {"what": _("category"), "values": code}
        return None
    return code


def _object(value, key: str, errors: dict, required: tuple[str, ...], optional: tuple[str, ...]) -> dict | None:
    if not isinstance(value, dict) or any(name not in value for name in required):
        errors[key] = _("Give an object with %(fields)s.") % {"fields": ", ".join(required + optional)}
        return None
    extra = set(value) - set(required) - set(optional)
    if extra:
        errors[key] = _("Unknown fields: %(fields)s.") % {"fields": ", ".join(sorted(extra))}
        return None
    return value


def _validate_behaviour(present: dict, clean: dict, errors: dict) -> None:
    """The keys on what members bought, like and are predicted to do (module docstring)."""
    if "bought_product" in present:
        value = _object(present["bought_product"], "bought_product", errors, ("product",), ("within_days",))
        if value is not None:
            sku = value["product"].strip() if isinstance(value["product"], str) else ""
            if not sku:
                errors["bought_product"] = _("Give a product SKU.")
            elif not Product.objects.filter(sku=sku).exists():
                errors["bought_product"] = _("Unknown %(what)s: %(values)s.") % {"what": _("product"), "values": sku}
            else:
                rule = {"product": sku}
                if value.get("within_days") not in (None, ""):
                    days = _whole(value["within_days"], "bought_product", errors, 1, MAX_DAYS)
                    if days is not None:
                        rule["within_days"] = days
                clean["bought_product"] = rule
    if "bought_category" in present:
        value = _object(present["bought_category"], "bought_category", errors, ("category",), ("within_days",))
        if value is not None:
            code = _category(value["category"], "bought_category", errors)
            if code is not None:
                rule = {"category": code}
                if value.get("within_days") not in (None, ""):
                    days = _whole(value["within_days"], "bought_category", errors, 1, MAX_DAYS)
                    if days is not None:
                        rule["within_days"] = days
                clean["bought_category"] = rule
    if "not_bought_category_days" in present:
        key = "not_bought_category_days"
        value = _object(present[key], key, errors, ("category", "days"), ())
        if value is not None:
            code = _category(value["category"], key, errors)
            days = _whole(value["days"], key, errors, 1, MAX_DAYS) if code is not None else None
            if days is not None:
                clean[key] = {"category": code, "days": days}
    if "event_attended" in present:
        value = present["event_attended"]
        value = _object({} if value is True else value, "event_attended", errors, (), ("event", "within_days"))
        if value is not None:
            rule = {}
            if value.get("event") not in (None, ""):
                event_id = _whole(value["event"], "event_attended", errors, 1, 2**31 - 1)
                if event_id is not None and not Event.objects.filter(pk=event_id).exists():
                    errors["event_attended"] = _("Unknown %(what)s: %(values)s.") % {
                        "what": _("event"), "values": event_id}  # fmt: skip
                elif event_id is not None:
                    rule["event"] = event_id
            if value.get("within_days") not in (None, ""):
                days = _whole(value["within_days"], "event_attended", errors, 1, MAX_DAYS)
                if days is not None:
                    rule["within_days"] = days
            if "event_attended" not in errors:
                clean["event_attended"] = rule
    if "favourite_category" in present:
        values = _string_list(present["favourite_category"], "favourite_category", errors)
        if values is not None:
            known = set(Category.objects.filter(code__in=values).values_list("code", flat=True))
            _known(values, known, "favourite_category", errors, _("category"))
            clean["favourite_category"] = values
    for key in PREFERENCE_KEYS:
        if key in present:
            values = _string_list(present[key], key, errors)
            if values is not None:
                clean[key] = values
    for key in ("churn_risk_min", "churn_risk_max"):
        if key in present:
            value = present[key]
            try:
                fraction = float(value) if not isinstance(value, bool) else None
            except (TypeError, ValueError):
                fraction = None
            if fraction is None or not 0 <= fraction <= 1:
                errors[key] = _("Give a fraction from 0 to 1 (0.6 is 60%).")
            else:
                clean[key] = round(fraction, 4)
    if clean.get("churn_risk_min", 0) > clean.get("churn_risk_max", 1):
        errors["churn_risk_max"] = _("Must be at least churn_risk_min.")
    for key in ("clv_min", "clv_max", "stored_value_balance_min"):
        if key in present:
            amount = _decimal(present[key], key, errors, _("Give an amount of 0 or more."))
            if amount is not None:
                clean[key] = str(amount.quantize(Decimal("0.01")))
    if "clv_min" in clean and "clv_max" in clean and Decimal(clean["clv_min"]) > Decimal(clean["clv_max"]):
        errors["clv_max"] = _("Must be at least clv_min.")
    if "predicted_purchases_min" in present:
        amount = _decimal(present["predicted_purchases_min"], "predicted_purchases_min", errors,
                          _("Give a number of 0 or more."))  # fmt: skip
        if amount is not None:
            clean["predicted_purchases_min"] = float(round(amount, 2))
    if "important_date_within_days" in present:
        days = _whole(present["important_date_within_days"], "important_date_within_days", errors, 0, 366)
        if days is not None:
            clean["important_date_within_days"] = days
    for key in ("has_valid_coupon", "paid_plan"):
        if key in present:
            flag = _flag(present[key], key, errors)
            if flag is not None:
                clean[key] = flag
    for key in ("points_balance_min", "points_balance_max"):
        if key in present:
            points = _whole(present[key], key, errors, 0, 10**9)
            if points is not None:
                clean[key] = points
    if clean.get("points_balance_min", 0) > clean.get("points_balance_max", 10**9):
        errors["points_balance_max"] = _("Must be at least points_balance_min.")
    if "points_expiring_within_days" in present:
        key = "points_expiring_within_days"
        value = present[key]
        if not isinstance(value, dict):
            value = {"days": value}
        value = _object(value, key, errors, ("days",), ("min_points",))
        if value is not None:
            days = _whole(value["days"], key, errors, 0, 366)
            least = 1
            if value.get("min_points") not in (None, ""):
                least = _whole(value["min_points"], key, errors, 1, 10**9)
            if days is not None and least is not None:
                clean[key] = {"days": days, "min_points": least}


def _start_of(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _counted_purchases():
    """A member's purchases that count: not fully refunded."""
    return Purchase.objects.filter(member_id=OuterRef("pk"), total__gt=F("refunded_total"))


def segment_members(rules: dict) -> QuerySet[Member]:
    """The active members the rules pick, as a lazy queryset (no query until it is used).

    The rules are validated first (ValidationError naming the bad key). Every condition is a
    column filter or an EXISTS subquery, never a to-many join, so each member appears once.
    """
    return _build(validate_rules(rules))


def _build(rules: dict) -> QuerySet[Member]:
    """The queryset of already clean rules, built without a query."""
    members = Member.objects.active()
    if "classification" in rules:
        codes = rules["classification"]
        condition = Q(campaign_score__classification__in=codes)
        if Classification.NO_PURCHASES in codes:
            condition |= ~Exists(MemberScore.objects.filter(member_id=OuterRef("pk")))
        members = members.filter(condition)
    if "tiers" in rules:
        members = members_in_tiers(members, rules["tiers"])
    if "stores" in rules:
        members = members.filter(home_store__code__in=rules["stores"])
    if "tags" in rules:
        tagged = Member.tags.through.objects.filter(member_id=OuterRef("pk"), tag__name__in=rules["tags"])
        members = members.filter(Exists(tagged))
    if "min_spend_12m" in rules:
        members = members.filter(campaign_score__spend_12m__gte=Decimal(rules["min_spend_12m"]))
    if "last_purchase_after" in rules:
        start = _start_of(datetime.date.fromisoformat(rules["last_purchase_after"]))
        members = members.filter(Exists(_counted_purchases().filter(ordered_at__gte=start)))
    if "last_purchase_before" in rules:
        day = datetime.date.fromisoformat(rules["last_purchase_before"])
        later = _start_of(day + datetime.timedelta(days=1))
        members = members.filter(
            Exists(_counted_purchases()) & ~Exists(_counted_purchases().filter(ordered_at__gte=later))
        )
    if "birthday_month" in rules:
        months = rules["birthday_month"]
        members = members.filter(birth_month__in=months if isinstance(months, list) else [months])
    if "consented_channel" in rules:
        members = members_with_marketing_consent(members, rules["consented_channel"])
    return _build_behaviour(members, rules)


def _category_ids(codes: list[str]) -> QuerySet[Category]:
    """The categories `codes` and every category under them (up to CATEGORY_DEPTH levels), as a
    subquery of the small category table (no query of its own)."""
    condition = Q(code__in=codes)
    for depth in range(1, CATEGORY_DEPTH + 1):
        condition |= Q(**{"__".join(["parent"] * depth) + "__code__in": codes})
    return Category.objects.filter(condition).values("pk")


def _counted_lines(**conditions):
    """A member's purchase lines that count: some quantity not returned, on a purchase not fully refunded."""
    return PurchaseItem.objects.filter(
        purchase__member_id=OuterRef("pk"),
        purchase__total__gt=F("purchase__refunded_total"),
        quantity__gt=F("returned_quantity"),
        **conditions,
    )


def _bought(field: str, ids: QuerySet, within_days: int | None = None, *, before: bool = False) -> Exists:
    """EXISTS a counted line whose `field` ("product_id" or "category_id") is one of `ids` (a
    subquery): ever, or ordered within the last `within_days` days, or (`before`) ordered
    before those days.

    On PostgreSQL it reads `members.PurchaseSummary` (the member's latest counted line per
    category and product, kept exact by the database: members/models.py), an index-only scan of
    (field, last_ordered_at) INCLUDE (member); elsewhere the purchase lines themselves. Both say
    the same (tests/campaigns/test_segment_summary.py)."""
    if connections[router.db_for_read(PurchaseSummary)].vendor == "postgresql":
        rows, date = (
            PurchaseSummary.objects.filter(member_id=OuterRef("pk"), **{f"{field}__in": ids}),
            "last_ordered_at",
        )
    else:
        rows, date = _counted_lines(**{f"{field}__in": ids}), "purchase__ordered_at"
    if within_days is not None:
        rows = rows.filter(**{f"{date}__{'lt' if before else 'gte'}": _days_ago(within_days)})
    return Exists(rows)


def _days_ago(days: int) -> datetime.datetime:
    return _start_of(timezone.localdate() - datetime.timedelta(days=days))


def _build_behaviour(members: QuerySet[Member], rules: dict) -> QuerySet[Member]:
    today = timezone.localdate()
    if "event_attended" in rules:
        rule = rules["event_attended"]
        attended = attended_member_ids(event_id=rule.get("event"), within_days=rule.get("within_days"))
        members = members.filter(pk__in=attended)
    if "bought_product" in rules:
        rule = rules["bought_product"]
        products = Product.objects.filter(sku=rule["product"]).values("pk")
        members = members.filter(_bought("product_id", products, rule.get("within_days")))
    if "bought_category" in rules:
        rule = rules["bought_category"]
        members = members.filter(_bought("category_id", _category_ids([rule["category"]]), rule.get("within_days")))
    if "not_bought_category_days" in rules:
        rule = rules["not_bought_category_days"]
        categories = _category_ids([rule["category"]])
        # Bought before the N days and not within them: the first part is a range of the
        # summary's (category, last_ordered_at) index, not all of the category's rows.
        members = members.filter(
            _bought("category_id", categories, rule["days"], before=True)
            & ~_bought("category_id", categories, rule["days"])
        )
    if "favourite_category" in rules:
        liked = Preference.objects.filter(
            member_id=OuterRef("pk"),
            kind=Preference.Kind.FAVOURITE_CATEGORY,
            category_id__in=_category_ids(rules["favourite_category"]),
        )
        members = members.filter(Exists(liked))
    for key in PREFERENCE_KEYS:
        if key in rules:
            matches = Q(pk__in=[])
            for value in rules[key]:
                matches |= Q(value__iexact=value)
            members = members.filter(Exists(Preference.objects.filter(matches, member_id=OuterRef("pk"), kind=key)))
    if "churn_risk_min" in rules:
        members = members.filter(campaign_score__churn_risk__gte=rules["churn_risk_min"])
    if "churn_risk_max" in rules:
        members = members.filter(campaign_score__churn_risk__lte=rules["churn_risk_max"])
    if "clv_min" in rules:
        members = members.filter(campaign_score__clv__gte=Decimal(rules["clv_min"]))
    if "clv_max" in rules:
        members = members.filter(campaign_score__clv__lte=Decimal(rules["clv_max"]))
    if "predicted_purchases_min" in rules:
        members = members.filter(campaign_score__expected_purchases__gte=rules["predicted_purchases_min"])
    if "important_date_within_days" in rules:
        last = today + datetime.timedelta(days=rules["important_date_within_days"])
        members = members_with_important_date(members, today, last)
    if "has_valid_coupon" in rules:
        now = timezone.now()
        valid = Coupon.objects.filter(
            Q(starts_at__isnull=True) | Q(starts_at__lte=now),
            Q(expires_at__isnull=True) | Q(expires_at__gt=now),
            member_id=OuterRef("pk"),
            status=Coupon.Status.ISSUED,
        )
        members = members.filter(Exists(valid) if rules["has_valid_coupon"] else ~Exists(valid))
    accounts = PointsAccount.objects.filter(member_id=OuterRef("pk"))
    if rules.get("points_balance_min"):
        members = members.filter(Exists(accounts.filter(balance__gte=rules["points_balance_min"])))
    if "points_balance_max" in rules:
        # One account a member (none: a balance of 0), so "at most x" is "no account above x": an
        # anti-join, where "an account at most x, or none" would be a subplan per member.
        members = members.filter(~Exists(accounts.filter(balance__gt=rules["points_balance_max"])))
    if "points_expiring_within_days" in rules:
        rule = rules["points_expiring_within_days"]
        expiring = PointsLot.objects.filter(
            remaining__gt=0, expires_on__gte=today, expires_on__lte=today + datetime.timedelta(days=rule["days"])
        )
        if rule["min_points"] <= 1:
            members = members.filter(Exists(expiring.filter(account__member_id=OuterRef("pk"))))
        else:
            # Members whose expiring lots add up to min_points: one grouped pass over the lots (a
            # hashed IN), not a sum per member.
            enough = (
                expiring.order_by()
                .values("account__member_id")
                .annotate(total=Sum("remaining"))
                .filter(total__gte=rule["min_points"])
                .values("account__member_id")
            )
            members = members.filter(pk__in=enough)
    if "paid_plan" in rules:
        in_force = MembershipSubscription.objects.filter(
            member_id=OuterRef("pk"),
            status=MembershipSubscription.Status.ACTIVE,
            starts_on__lte=today,
            ends_on__gte=today,
        )
        members = members.filter(Exists(in_force) if rules["paid_plan"] else ~Exists(in_force))
    if "stored_value_balance_min" in rules and Decimal(rules["stored_value_balance_min"]) > 0:
        wallets = StoredValueAccount.objects.alias(total=F("principal") + F("bonus")).filter(
            member_id=OuterRef("pk"), total__gte=Decimal(rules["stored_value_balance_min"])
        )
        members = members.filter(Exists(wallets))
    return members


def count_members(rules: dict) -> int:
    return segment_members(rules).count()


EXPORT_COLUMNS = ("member_no", "name", "classification", "tier")
EXPORT_CHUNK = 2000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    """Text a spreadsheet would read as a formula gets a leading apostrophe."""
    return "'" + value if value and value.startswith(FORMULA_START) else value


def segment_export_rows(segment: Segment) -> Iterator[tuple[str, str, str, str]]:
    """(member_no, name, classification, tier code) of each member, by member number; no contact
    data. Two queries per 2,000 members, whatever the segment's size."""
    members = segment_members(segment.rules).order_by("member_no")
    after = ""
    while True:
        chunk = list(
            members.filter(member_no__gt=after)
            .select_related("campaign_score")
            .only("pk", "member_no", "name", "campaign_score__classification")[:EXPORT_CHUNK]
        )
        if not chunk:
            return
        snapshots = loyalty.snapshots(chunk)
        for member in chunk:
            score = getattr(member, "campaign_score", None)
            classification = score.classification if score is not None else Classification.NO_PURCHASES
            tier = snapshots[member.pk].tier.code if member.pk in snapshots else ""
            yield member.member_no, _cell(member.name), classification, tier
        after = chunk[-1].member_no
