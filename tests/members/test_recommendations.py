"""Product recommendations by item-to-item co-purchase, against a hand-computed small shop."""

from __future__ import annotations

import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.utils import timezone

from members import services
from members.models import Product, ProductRecommendation
from members.selectors import recommended_names, recommended_products
from members.tasks import refresh_recommendations as nightly_task
from tests.members import factories

pytestmark = pytest.mark.django_db

NOW = timezone.make_aware(datetime.datetime(2026, 6, 1, 3, 0))
_refs = iter(range(1, 10_000))


def buy(member, *skus, days_ago: int = 10):
    services.record_purchase(
        member=member,
        external_ref=f"REC-{next(_refs):05d}",
        ordered_at=NOW - datetime.timedelta(days=days_ago),
        items=[services.PurchaseLine(sku=sku, quantity=1, unit_price=Decimal("10.00")) for sku in skus],
    )


@pytest.fixture
def shop():
    """Products A (rose), B (lily), C (tulip), D (vase, no longer sold), E (card).

    In the last 12 months: m1 bought A, B; m2 A, B, C; m3 A, C, D; m4 A; m5 E. m1 also bought C
    400 days ago (outside the window, yet bought: never recommended to m1).

    Buyers in the window: A 4, B 2, C 2, D 1, E 1. Similarity of b to a = of a's buyers, the share
    who bought b: A→B 2/4, A→C 2/4, A→D 1/4, C→B 1/2, C→D 1/2, D→C 1, B→C 1/2 …
    Co-purchase: m3 (A, C, D): B = A→B + C→B + D→B = 0.5 + 0.5 + 0 = 1.0. m4 (A): B 0.5, C 0.5
    (tie: lower product id first); D is inactive. m1, m2: everything co-bought is bought or inactive.
    Then the popular pool (active, by buyers: A, B, C, E) fills each list after its co-purchases:
    m1 → E; m2 → E; m3 → B, E; m4 → B, C, E; m5 (only E, bought with nothing) → A, B, C.
    """
    names = {"A": "玫瑰", "B": "百合", "C": "郁金香", "D": "花瓶", "E": "贺卡"}
    products = {key: factories.product(sku=f"SKU-{key}", name=name) for key, name in names.items()}
    Product.objects.filter(sku="SKU-D").update(is_active=False)
    m = [factories.member() for _ in range(5)]
    buy(m[0], "SKU-A", "SKU-B")
    buy(m[0], "SKU-C", days_ago=400)
    buy(m[1], "SKU-A")
    buy(m[1], "SKU-B", "SKU-C", days_ago=30)
    buy(m[2], "SKU-A", "SKU-C", "SKU-D")
    buy(m[3], "SKU-A")
    buy(m[4], "SKU-E")
    return m, products


def rows():
    return {
        (r.member_id, r.rank): (r.product.sku, round(r.score, 6))
        for r in ProductRecommendation.objects.select_related("product")
    }


def test_recommendations_equal_the_hand_computed_co_purchase_ranking(shop):
    m, _products = shop
    run = services.refresh_recommendations(now=NOW)
    assert run.rows == 10
    assert rows() == {
        (m[0].pk, 1): ("SKU-E", 0.0),
        (m[1].pk, 1): ("SKU-E", 0.0),
        (m[2].pk, 1): ("SKU-B", 1.0),
        (m[2].pk, 2): ("SKU-E", 0.0),
        (m[3].pk, 1): ("SKU-B", 0.5),
        (m[3].pk, 2): ("SKU-C", 0.5),
        (m[3].pk, 3): ("SKU-E", 0.0),
        (m[4].pk, 1): ("SKU-A", 0.0),
        (m[4].pk, 2): ("SKU-B", 0.0),
        (m[4].pk, 3): ("SKU-C", 0.0),
    }


def test_top_n_limits_each_member_and_a_second_run_gives_the_same_rows(shop):
    m, _products = shop
    services.refresh_recommendations(now=NOW, top_n=1)
    assert [p.sku for p in recommended_products(m[3])] == ["SKU-B"]
    first = rows()
    services.refresh_recommendations(now=NOW, top_n=1)
    assert rows() == first


def test_the_variable_joins_names_in_the_campaigns_language(shop):
    from campaigns import personal_variables

    m, _products = shop
    services.refresh_recommendations(now=NOW)
    assert recommended_names(m[3], separator="、") == "百合、郁金香、贺卡"
    chinese = SimpleNamespace(
        subject="", body="为您推荐：{{ recommendations }}", message_template=None, language="zh-hans"
    )
    english = SimpleNamespace(subject="", body="For you: {{ recommendations }}", message_template=None, language="en")
    assert personal_variables.values_for(chinese, m[3]) == {"recommendations": "百合、郁金香、贺卡"}
    assert personal_variables.values_for(english, m[3]) == {"recommendations": "百合, 郁金香, 贺卡"}
    nobody = factories.member()  # never bought: no list
    assert personal_variables.values_for(chinese, nobody) == {"recommendations": ""}


def test_the_command_and_the_nightly_task_write_the_table(shop, capsys):
    call_command("refresh_recommendations")
    assert "recommendations written" in capsys.readouterr().out
    ProductRecommendation.objects.all().delete()
    nightly_task()
    # Run at today's date, the shop's purchases (10 and 30 days before 1 June 2026) may be out of
    # the window; the task must run all the same and leave a consistent table.
    assert ProductRecommendation.objects.filter(rank__gt=5).count() == 0


def test_the_member_page_shows_the_recommendations(shop, admin_client):
    m, _products = shop
    services.refresh_recommendations(now=NOW)
    page = admin_client.get(f"/admin/members/member/{m[3].pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Recommended products" in text and "百合" in text and "郁金香" in text
