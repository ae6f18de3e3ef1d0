"""The behaviour, preference, prediction, date and wallet segment keys (issue 18), each against an
answer worked out by hand on a small flower shop."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import MemberScore
from campaigns.segments import segment_members, validate_rules
from members import services as member_services
from members.models import Category, Member, Product, Purchase, PurchaseItem
from rewards import services as reward_services
from rewards.models import Coupon, MembershipPlan, PointsLot
from rewards.services.coupons import issue_coupon
from rewards.services.stored_value import top_up
from tests.campaigns.segment_helpers import SHANGHAI
from tests.members import factories
from tests.rewards.catalogue_factories import template

pytestmark = pytest.mark.django_db

_refs = iter(range(1, 10_000))


def local(days_ago: int, time: str = "12:00") -> datetime.datetime:
    day = timezone.localdate() - datetime.timedelta(days=days_ago)
    return datetime.datetime.fromisoformat(f"{day.isoformat()}T{time}").replace(tzinfo=SHANGHAI)


def buy(member, sku: str, when: datetime.datetime, *, refunded: bool = False, returned: bool = False) -> Purchase:
    product = Product.objects.get(sku=sku)
    purchase = member_services.record_purchase(
        member=member,
        external_ref=f"SEG-{next(_refs):05d}",
        ordered_at=when,
        items=[member_services.PurchaseLine(sku=sku, quantity=1, unit_price=product.unit_price)],
    )
    if refunded:
        Purchase.objects.filter(pk=purchase.pk).update(refunded_total=purchase.total)
    if returned:
        PurchaseItem.objects.filter(purchase=purchase).update(returned_quantity=1)
    return purchase


def score(member, *, churn: float, clv: str, expected: float) -> None:
    MemberScore.objects.update_or_create(
        member=member,
        defaults={
            "as_of": timezone.localdate(),
            "classification": "potential",
            "churn_risk": churn,
            "p_alive": 1 - churn,
            "clv": Decimal(clv),
            "expected_purchases": expected,
            "computed_at": timezone.now(),
        },
    )


@pytest.fixture
def shop(db):
    """Flowers (roses, lilies under it; garden roses under roses) and plants; five members.

    ann: roses 20 days ago; churn 0.70, CLV 800, 2.5 expected; likes red, modern, roses; anniversary in
         5 days (consented); a valid coupon; 500 points, 200 of them expiring in 10 days; a paid plan;
         ¥300 stored value
    ben: lilies 200 days ago; garden roses 95 days ago; churn 0.30, CLV 200, 0.5 expected; prefers
         WeChat; partner's birthday in 40 days (consented); an expired coupon; 50 points
    cat: roses 100 days ago, fully refunded; roses 10 days ago, returned; plants 5 days ago; churn
         0.90, CLV 50, 0.1 expected; colour "RED" (other case); 300 points expiring in 10 days
    dan: no purchases, no score; a date in 3 days but no data-processing consent
    eve: frozen, bought roses yesterday, churn 0.99 — never in a segment
    """
    flowers = Category.objects.create(code="flowers", name="鲜花")
    roses = Category.objects.create(code="roses", name="玫瑰", parent=flowers)
    garden = Category.objects.create(code="garden-roses", name="庭院玫瑰", parent=roses)
    lilies = Category.objects.create(code="lilies", name="百合", parent=flowers)
    plants = Category.objects.create(code="plants", name="绿植")
    for sku, name, cat, price in (
        ("ROSE-11", "11枝红玫瑰", roses, "199.00"),
        ("GROSE-1", "庭院玫瑰", garden, "99.00"),
        ("LILY-5", "5枝百合", lilies, "129.00"),
        ("POT-1", "绿萝", plants, "59.00"),
    ):
        Product.objects.create(sku=sku, name=name, category=cat, unit_price=Decimal(price))

    today = timezone.localdate()
    ann = factories.member(name="Ann", consents={"data_processing": True})
    ben = factories.member(name="Ben", consents={"data_processing": True})
    cat = factories.member(name="Cat")
    dan = factories.member(name="Dan")
    eve = factories.member(name="Eve")

    buy(ann, "ROSE-11", local(20))
    buy(ben, "LILY-5", local(200))
    buy(ben, "GROSE-1", local(95))
    buy(cat, "ROSE-11", local(100), refunded=True)
    buy(cat, "ROSE-11", local(10), returned=True)
    buy(cat, "POT-1", local(5))
    buy(eve, "ROSE-11", local(1))

    score(ann, churn=0.70, clv="800.00", expected=2.5)
    score(ben, churn=0.30, clv="200.00", expected=0.5)
    score(cat, churn=0.90, clv="50.00", expected=0.1)
    score(eve, churn=0.99, clv="10.00", expected=0.0)

    member_services.add_preference(member=ann, kind="colour", value="Red")
    member_services.add_preference(member=ann, kind="style", value="modern")
    member_services.add_preference(member=ann, kind="favourite_category", category=roses)
    member_services.add_preference(member=ben, kind="preferred_channel", value="wechat")
    member_services.add_preference(member=cat, kind="colour", value="RED")

    in_5 = today + datetime.timedelta(days=5)
    in_40 = today + datetime.timedelta(days=40)
    in_3 = today + datetime.timedelta(days=3)
    day_of = {"month": in_5.month, "day": in_5.day if (in_5.month, in_5.day) != (2, 29) else 28}
    member_services.add_important_date(member=ann, kind="anniversary", **day_of)
    member_services.add_important_date(member=ben, kind="partner_birthday", month=in_40.month, day=min(in_40.day, 28))
    member_services.add_important_date(member=dan, kind="custom", label="妈妈生日", month=in_3.month, day=in_3.day,
                                       consent=True)  # fmt: skip
    member_services.set_consents(member=dan, consents={"data_processing": False})

    coupon_template = template()
    issue_coupon(template=coupon_template, member=ann, source=Coupon.Source.MANUAL)
    expired = issue_coupon(template=coupon_template, member=ben, source=Coupon.Source.MANUAL)
    Coupon.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - datetime.timedelta(days=1))

    for who, points in ((ann, 300), (ann, 200), (ben, 50), (cat, 300)):
        reward_services.adjust_points(member=who, points=points, reason="test", actor=None)
    soon = today + datetime.timedelta(days=10)
    PointsLot.objects.filter(account__member=ann, points=200).update(expires_on=soon)
    PointsLot.objects.filter(account__member=cat).update(expires_on=soon)
    PointsLot.objects.filter(account__member__in=[ann, ben], points__in=[300, 50]).update(
        expires_on=today + datetime.timedelta(days=200)
    )

    reward_services.buy_membership(member=ann, plan=MembershipPlan.objects.order_by("pk").first(), external_ref="P-1")
    top_up(member=ann, amount=Decimal("300.00"), external_ref="TU-1", payment_method="cash")

    member_services.update_member(member=eve, status=Member.Status.FROZEN)
    return {"ann": ann, "ben": ben, "cat": cat, "dan": dan, "eve": eve}


def names(rules) -> set[str]:
    return set(segment_members(rules).values_list("name", flat=True))


def test_bought_product_ever_and_within_days(shop):
    assert names({"bought_product": {"product": "ROSE-11"}}) == {"Ann"}  # Cat's were refunded / returned
    assert names({"bought_product": {"product": "ROSE-11", "within_days": 20}}) == {"Ann"}
    assert names({"bought_product": {"product": "ROSE-11", "within_days": 19}}) == set()
    assert names({"bought_product": {"product": "LILY-5", "within_days": 90}}) == set()
    assert names({"bought_product": {"product": "LILY-5"}}) == {"Ben"}


def test_within_days_starts_at_the_first_minute_of_that_day(shop):
    buy(shop["dan"], "POT-1", local(30, "00:01"))
    assert "Dan" in names({"bought_product": {"product": "POT-1", "within_days": 30}})
    assert "Dan" not in names({"bought_product": {"product": "POT-1", "within_days": 29}})


def test_bought_category_includes_the_categories_under_it(shop):
    assert names({"bought_category": {"category": "flowers"}}) == {"Ann", "Ben"}
    assert names({"bought_category": {"category": "roses"}}) == {"Ann", "Ben"}  # garden roses are roses
    assert names({"bought_category": {"category": "roses", "within_days": 90}}) == {"Ann"}
    assert names({"bought_category": {"category": "garden-roses"}}) == {"Ben"}
    assert names({"bought_category": {"category": "plants", "within_days": 7}}) == {"Cat"}


def test_not_bought_category_days_means_bought_before_but_not_lately(shop):
    assert names({"not_bought_category_days": {"category": "roses", "days": 30}}) == {"Ben"}
    assert names({"not_bought_category_days": {"category": "roses", "days": 20}}) == {"Ben"}
    assert names({"not_bought_category_days": {"category": "roses", "days": 19}}) == {"Ann", "Ben"}
    assert names({"not_bought_category_days": {"category": "flowers", "days": 96}}) == set()
    assert names({"not_bought_category_days": {"category": "lilies", "days": 180}}) == {"Ben"}


def test_preferences(shop):
    assert names({"favourite_category": ["flowers"]}) == {"Ann"}  # roses are under flowers
    assert names({"favourite_category": ["lilies"]}) == set()
    assert names({"colour": ["red"]}) == {"Ann", "Cat"}  # any case
    assert names({"style": ["modern", "classic"]}) == {"Ann"}
    assert names({"preferred_channel": ["wechat"]}) == {"Ben"}


def test_churn_risk_bounds_are_inclusive_fractions(shop):
    assert names({"churn_risk_min": 0.6}) == {"Ann", "Cat"}
    assert names({"churn_risk_min": 0.7}) == {"Ann", "Cat"}
    assert names({"churn_risk_max": 0.3}) == {"Ben"}
    assert names({"churn_risk_min": 0.5, "churn_risk_max": 0.8}) == {"Ann"}


def test_clv_and_predicted_purchases(shop):
    assert names({"clv_min": "200"}) == {"Ann", "Ben"}
    assert names({"clv_max": 199.99}) == {"Cat"}
    assert names({"clv_min": 100, "clv_max": 800}) == {"Ann", "Ben"}
    assert names({"predicted_purchases_min": 0.5}) == {"Ann", "Ben"}
    assert names({"predicted_purchases_min": 1}) == {"Ann"}


def test_important_date_within_days_needs_consent(shop):
    assert names({"important_date_within_days": 7}) == {"Ann"}  # Dan withdrew his consent
    assert names({"important_date_within_days": 4}) == set()
    assert names({"important_date_within_days": 45}) >= {"Ann", "Ben"}


def test_has_valid_coupon(shop):
    assert names({"has_valid_coupon": True}) == {"Ann"}  # Ben's has expired
    assert names({"has_valid_coupon": False}) == {"Ben", "Cat", "Dan"}


def test_points_balance(shop):
    assert names({"points_balance_min": 300}) == {"Ann", "Cat"}
    assert names({"points_balance_max": 50}) == {"Ben", "Dan"}  # Dan has no account: 0
    assert names({"points_balance_min": 100, "points_balance_max": 400}) == {"Cat"}


def test_points_expiring_within_days_with_a_minimum(shop):
    assert names({"points_expiring_within_days": 10}) == {"Ann", "Cat"}
    assert names({"points_expiring_within_days": 9}) == set()
    assert names({"points_expiring_within_days": {"days": 30, "min_points": 250}}) == {"Cat"}
    assert names({"points_expiring_within_days": {"days": 365, "min_points": 500}}) == {"Ann"}


def test_paid_plan_and_stored_value(shop):
    assert names({"paid_plan": True}) == {"Ann"}
    assert names({"paid_plan": False}) == {"Ben", "Cat", "Dan"}
    assert names({"stored_value_balance_min": "300"}) == {"Ann"}
    assert names({"stored_value_balance_min": "300.01"}) == set()


def test_the_issue_segment_roses_in_90_days_and_churn_above_60_percent(shop):
    rules = {"bought_category": {"category": "roses", "within_days": 90}, "churn_risk_min": 0.6}
    assert names(rules) == {"Ann"}


def test_every_key_together_is_one_query(shop):
    rules = {
        "bought_product": {"product": "ROSE-11", "within_days": 90},
        "bought_category": {"category": "flowers", "within_days": 90},
        "not_bought_category_days": {"category": "lilies", "days": 1},
        "favourite_category": ["roses"],
        "colour": ["red"],
        "style": ["modern"],
        "churn_risk_min": 0.6,
        "churn_risk_max": 0.8,
        "clv_min": "100",
        "clv_max": "900",
        "predicted_purchases_min": 1,
        "important_date_within_days": 7,
        "has_valid_coupon": True,
        "points_balance_min": 100,
        "points_balance_max": 1000,
        "points_expiring_within_days": {"days": 30, "min_points": 100},
        "paid_plan": True,
        "stored_value_balance_min": "100",
    }
    clean = validate_rules(rules)
    from campaigns.segments import _build

    with CaptureQueriesContext(connection) as queries:
        count = _build(clean).count()
    assert len(queries) == 1
    assert count == 0  # Ann never bought lilies
    clean.pop("not_bought_category_days")
    assert _build(clean).count() == 1


@pytest.mark.parametrize(
    ("rules", "key"),
    [
        ({"bought_product": {"product": "NOPE"}}, "bought_product"),
        ({"bought_product": "ROSE-11"}, "bought_product"),
        ({"bought_category": {"category": "roses", "within_days": 0}}, "bought_category"),
        ({"bought_category": {"category": "tulips"}}, "bought_category"),
        ({"not_bought_category_days": {"category": "roses"}}, "not_bought_category_days"),
        ({"favourite_category": ["tulips"]}, "favourite_category"),
        ({"colour": [""]}, "colour"),
        ({"churn_risk_min": 60}, "churn_risk_min"),
        ({"churn_risk_min": 0.8, "churn_risk_max": 0.2}, "churn_risk_max"),
        ({"clv_min": "-1"}, "clv_min"),
        ({"predicted_purchases_min": "x"}, "predicted_purchases_min"),
        ({"important_date_within_days": 400}, "important_date_within_days"),
        ({"has_valid_coupon": "yes"}, "has_valid_coupon"),
        ({"points_balance_min": 1.5}, "points_balance_min"),
        ({"points_expiring_within_days": {"days": 10, "min_points": 0}}, "points_expiring_within_days"),
        ({"paid_plan": 1}, "paid_plan"),
        ({"stored_value_balance_min": "abc"}, "stored_value_balance_min"),
    ],
)
def test_bad_values_name_their_key(shop, rules, key):
    with pytest.raises(ValidationError) as error:
        validate_rules(rules)
    assert key in error.value.message_dict


def test_canonical_forms(shop):
    assert validate_rules(
        {"points_expiring_within_days": "14", "churn_risk_min": "0.6", "bought_category": {"category": " roses "}}
    ) == {
        "points_expiring_within_days": {"days": 14, "min_points": 1},
        "churn_risk_min": 0.6,
        "bought_category": {"category": "roses"},
    }


PREVIEW = "/admin/campaigns/segment/preview/"


def test_the_admin_builder_saves_and_previews_the_new_keys(client, shop, marketing):
    client.force_login(marketing)
    fields = {
        "bought_category": "roses",
        "bought_category_within_days": "90",
        "churn_risk_min": "60",
        "colour": "red，pink",
        "points_expiring_within_days": "30",
        "points_expiring_min_points": "150",
        "has_valid_coupon": "yes",
    }
    assert client.get(PREVIEW, fields).json()["size"] == 1
    assert client.get(PREVIEW, {"churn_risk_min": "60"}).json()["size"] == 2
    response = client.post("/admin/campaigns/segment/add/", {"name": "玫瑰流失风险", "description": "", **fields,
                                                              "_save": "1"})  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    from campaigns.models import Segment

    segment = Segment.objects.get(name="玫瑰流失风险")
    assert segment.rules == {
        "bought_category": {"category": "roses", "within_days": 90},
        "churn_risk_min": 0.6,
        "colour": ["pink", "red"],
        "has_valid_coupon": True,
        "points_expiring_within_days": {"days": 30, "min_points": 150},
    }
    assert segment.size == 1
    page = client.get(f"/admin/campaigns/segment/{segment.pk}/change/").content.decode()
    assert 'name="churn_risk_min" value="60' in page and 'value="pink, red"' in page
    listing = client.get("/admin/campaigns/segment/").content.decode()
    assert "60%" in listing


def test_the_builder_names_a_half_given_rule(client, shop, marketing):
    client.force_login(marketing)
    response = client.get(PREVIEW, {"not_bought_category_days": "30"})
    assert response.status_code == 400
    assert "not_bought_category_days" in response.json()["errors"]


def test_the_api_takes_and_answers_the_new_keys(shop, api_marketing):
    rules = {
        "bought_category": {"category": "roses", "within_days": 90},
        "churn_risk_min": 0.6,
        "points_expiring_within_days": 30,
        "has_valid_coupon": True,
        "clv_min": "100",
    }
    response = api_marketing.post("/api/v1/segments/", {"name": "玫瑰流失", "rules": rules}, format="json")
    assert response.status_code == 201, response.json()
    body = api_marketing.get(f"/api/v1/segments/{response.json()['id']}/").json()
    assert body["rules"] == {
        "bought_category": {"category": "roses", "within_days": 90},
        "churn_risk_min": 0.6,
        "points_expiring_within_days": {"days": 30, "min_points": 1},
        "has_valid_coupon": True,
        "clv_min": "100.00",
    }
    assert body["size"] == 1
    bad = api_marketing.post("/api/v1/segments/", {"name": "x", "rules": {"churn_risk_min": 60}}, format="json")
    assert bad.status_code == 400 and "churn_risk_min" in str(bad.json())


def test_event_attended_any_one_event_and_within_days():
    from campaigns.services import events as event_services
    from tests.campaigns.event_helpers import event, member, sign_up

    salon = event(starts_in=datetime.timedelta(hours=-1), hours=3)
    launch = event(starts_in=datetime.timedelta(days=-200), hours=3)
    recent, long_ago, absent, _stranger = member(), member(), member(), member()
    for person in (recent, absent):
        sign_up(salon, person, now=salon.starts_at - datetime.timedelta(days=1))
    sign_up(launch, long_ago, now=launch.starts_at - datetime.timedelta(days=1))
    event_services.check_in(event=salon, code=recent.member_no)
    event_services.check_in(event=launch, code=long_ago.member_no, now=launch.starts_at)

    def picked(rule):
        return set(segment_members(validate_rules({"event_attended": rule})))

    assert picked({}) == picked(True) == {recent, long_ago}  # any event, ever; never `absent` or `_stranger`
    assert picked({"within_days": 30}) == {recent}
    assert picked({"event": launch.pk}) == {long_ago}
    assert picked({"event": launch.pk, "within_days": 30}) == set()
    for bad in ({"event": 999_999}, {"within_days": 0}, {"when": 3}, "yes"):
        with pytest.raises(ValidationError) as error:
            validate_rules({"event_attended": bad})
        assert "event_attended" in error.value.message_dict
