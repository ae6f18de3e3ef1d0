"""Segment rules: every key alone, combinations, and validation errors naming the key."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from campaigns.models import MemberScore, Segment
from campaigns.segments import _build, segment_members, validate_rules
from campaigns.services.segments import refresh_segment_sizes, save_segment
from members import services as member_services
from tests.campaigns.segment_helpers import buy
from tests.members import factories

pytestmark = pytest.mark.django_db


def names(rules) -> set[str]:
    return set(segment_members(rules).values_list("name", flat=True))


def test_no_rules_means_every_active_member(people):
    assert names({}) == {"Alice", "Bob", "Carol"}  # Dave is frozen


def test_classification(people):
    assert names({"classification": ["high_value"]}) == {"Alice"}
    assert names({"classification": ["ordinary"]}) == {"Bob"}
    assert names({"classification": ["high_value", "ordinary"]}) == {"Alice", "Bob"}
    assert names({"classification": ["no_purchases"]}) == {"Carol"}


def test_a_member_not_yet_classified_counts_as_no_purchases(people):
    factories.member(name="Erin")
    assert names({"classification": ["no_purchases"]}) == {"Carol", "Erin"}
    assert not MemberScore.objects.filter(member__name="Erin").exists()


def test_tiers_from_rewards_with_the_entry_tier_for_members_without_an_account(people):
    assert names({"tiers": ["gold"]}) == {"Alice"}
    assert names({"tiers": ["silver", "gold"]}) == {"Alice", "Bob"}
    assert names({"tiers": ["regular"]}) == {"Carol"}  # no points account: the entry tier
    assert names({"tiers": ["diamond"]}) == set()


def test_stores_and_tags(people):
    assert names({"stores": ["sh-001"]}) == {"Alice"}
    assert names({"stores": ["sh-001", "bj-001"]}) == {"Alice", "Bob"}
    assert names({"tags": ["VIP"]}) == {"Alice", "Bob"}
    assert names({"tags": ["new"]}) == {"Bob"}
    assert segment_members({"tags": ["VIP", "new"]}).count() == 2  # any of the tags, each member once


def test_min_spend_over_the_window(people):
    assert names({"min_spend_12m": "5000"}) == {"Alice"}
    assert names({"min_spend_12m": 6000}) == {"Alice"}
    assert names({"min_spend_12m": "6000.01"}) == set()
    assert names({"min_spend_12m": "0"}) == {"Alice", "Bob", "Carol"}  # everyone classified


def test_last_purchase_dates_are_inclusive_and_live(people):
    today = people["today"]
    alice_day = today - datetime.timedelta(days=10)
    assert names({"last_purchase_after": alice_day.isoformat()}) == {"Alice"}
    assert names({"last_purchase_after": (alice_day + datetime.timedelta(days=1)).isoformat()}) == set()
    assert names({"last_purchase_before": (today - datetime.timedelta(days=30)).isoformat()}) == {"Bob"}
    assert names({"last_purchase_before": alice_day.isoformat()}) == {"Alice", "Bob"}
    # A purchase today moves Bob's last purchase at once (no classification run needed) …
    buy(people["bob"], "10.00", datetime.datetime.now(tz=datetime.UTC))
    assert names({"last_purchase_before": (today - datetime.timedelta(days=30)).isoformat()}) == set()
    # … and a fully refunded purchase does not count.
    buy(people["carol"], "10.00", datetime.datetime.now(tz=datetime.UTC), refunded="10.00")
    assert "Carol" not in names({"last_purchase_after": alice_day.isoformat()})


def test_birthday_month(people):
    assert names({"birthday_month": 2}) == {"Alice"}
    assert names({"birthday_month": [2, 7]}) == {"Alice", "Bob"}
    assert names({"birthday_month": 12}) == set()


def test_consented_channel_reads_the_current_consent(people):
    assert names({"consented_channel": "email"}) == {"Alice"}
    assert names({"consented_channel": "sms"}) == {"Bob"}
    member_services.set_consents(member=people["alice"], consents={"marketing_email": False})
    assert names({"consented_channel": "email"}) == set()


def test_rules_are_anded(people):
    assert names({"tags": ["VIP"], "consented_channel": "sms"}) == {"Bob"}
    assert names({"tags": ["VIP"], "classification": ["high_value"], "tiers": ["gold"], "stores": ["sh-001"]}) == {
        "Alice"
    }
    assert names({"tags": ["VIP"], "birthday_month": 2, "consented_channel": "sms"}) == set()


def test_segment_members_is_lazy_and_counts_in_one_query(people, django_assert_num_queries):
    rules = {
        "classification": ["high_value", "no_purchases"], "tiers": ["gold", "regular"], "stores": ["sh-001"],
        "tags": ["VIP"], "min_spend_12m": "1", "last_purchase_after": "2020-01-01",
        "last_purchase_before": "2099-01-01", "birthday_month": [2], "consented_channel": "email",
    }  # fmt: skip
    clean = validate_rules(rules)
    with django_assert_num_queries(0):
        queryset = _build(clean)
    with django_assert_num_queries(1):
        assert queryset.count() == 1


@pytest.mark.parametrize(
    ("rules", "key"),
    [
        ({"shoe_size": "42"}, "shoe_size"),  # an unknown key
        ({"classification": ["vip"]}, "classification"),
        ({"classification": "high_value "}, None),  # a bare string is accepted (stripped)
        ({"tiers": ["platinum"]}, "tiers"),
        ({"tiers": "gold"}, None),
        ({"stores": ["nowhere"]}, "stores"),
        ({"tags": [1, 2]}, "tags"),
        ({"tags": ["no-such-tag"]}, "tags"),
        ({"min_spend_12m": "-1"}, "min_spend_12m"),
        ({"min_spend_12m": "lots"}, "min_spend_12m"),
        ({"min_spend_12m": True}, "min_spend_12m"),
        ({"last_purchase_after": "2026-13-01"}, "last_purchase_after"),
        ({"last_purchase_before": "yesterday"}, "last_purchase_before"),
        ({"last_purchase_after": "2026-05-02", "last_purchase_before": "2026-05-01"}, "last_purchase_before"),
        ({"birthday_month": 13}, "birthday_month"),
        ({"birthday_month": [0, 3]}, "birthday_month"),
        ({"birthday_month": "May"}, "birthday_month"),
        ({"consented_channel": "fax"}, "consented_channel"),
    ],
)
def test_validation_names_the_bad_key(people, rules, key):
    if key is None:
        validate_rules(rules)
        return
    with pytest.raises(ValidationError) as error:
        validate_rules(rules)
    assert list(error.value.message_dict) == [key]
    with pytest.raises(ValidationError):
        segment_members(rules)


def test_rules_must_be_an_object():
    with pytest.raises(ValidationError) as error:
        validate_rules(["tiers"])
    assert list(error.value.message_dict) == ["rules"]


def test_validation_reports_every_bad_key_at_once(people):
    with pytest.raises(ValidationError) as error:
        validate_rules({"tiers": ["x"], "birthday_month": 0, "nope": 1})
    assert set(error.value.message_dict) == {"tiers", "birthday_month", "nope"}


def test_clean_rules_are_canonical(people):
    assert validate_rules(
        {"tags": ["VIP", "new", "VIP"], "min_spend_12m": 100, "birthday_month": ["7", 2], "classification": [],
         "last_purchase_after": "2026-01-05", "stores": None}
    ) == {"tags": ["VIP", "new"], "min_spend_12m": "100.00", "birthday_month": [2, 7],
          "last_purchase_after": "2026-01-05"}  # fmt: skip


def test_save_segment_counts_and_refresh_recounts(people, manager):
    segment = save_segment(name="VIP 会员", rules={"tags": ["VIP"]}, actor=manager)
    assert (segment.size, segment.created_by) == (2, manager)
    factories.member(name="Frank", tags=["VIP"])
    assert Segment.objects.get(pk=segment.pk).size == 2
    assert refresh_segment_sizes() == 1
    assert Segment.objects.get(pk=segment.pk).size == 3


def test_save_segment_refuses_bad_rules_and_writes_nothing(people):
    with pytest.raises(ValidationError):
        save_segment(name="Broken", rules={"tiers": ["platinum"]})
    assert not Segment.objects.exists()
