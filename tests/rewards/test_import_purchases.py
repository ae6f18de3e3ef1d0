"""`manage.py import_purchases` and the service behind it (rewards.importing)."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from members.models import Purchase
from members.services import erase_member
from rewards.importing import import_purchases
from rewards.models import LedgerEntry, PurchasePosting, TierHistory
from tests.members import factories
from tests.rewards.helpers import account_of, assert_ledger_invariants, post

pytestmark = pytest.mark.django_db

HEADER = "external_ref,member_external_id,ordered_at,sku,category,quantity,unit_price"
YESTERDAY = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()
LAST_WEEK = (timezone.localdate() - datetime.timedelta(days=7)).isoformat()


@pytest.fixture
def people():
    factories.product()
    factories.store()
    return {
        "alice": factories.member(name="王芳", external_id="POS-A"),
        "bob": factories.member(name="李强", external_id="POS-B"),
    }


def write(tmp_path, text: str, name="purchases.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def run(path, *args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_purchases", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def refused(path, *args) -> tuple[str, list[list[str]]]:
    with pytest.raises(CommandError) as error:
        run(path, *args)
    assert error.value.returncode == 1
    report = path.with_name(path.name + ".errors.csv")
    rows = list(csv.reader(io.StringIO(report.read_text(encoding="utf-8-sig"))))
    return str(error.value), rows[1:]


GOOD = f"""{HEADER}
O-1,POS-A,{LAST_WEEK} 10:00,ROSE-11,roses,2,99.50
O-1,POS-A,{LAST_WEEK} 10:00,CARD-1,cards,1,10.00
O-2,POS-B,{YESTERDAY} 11:30,ROSE-11,,1,600.00
"""


def test_import_posts_purchases_earning_points_as_the_api_does(tmp_path, people):
    out, _err = run(write(tmp_path, GOOD))
    assert "Posted 2 purchases (3 lines), earning 809 points" in out
    alice, bob = account_of(people["alice"]), account_of(people["bob"])
    assert (alice.balance, alice.lifetime_spend, alice.tier.code) == (209, Decimal("209.00"), "regular")
    assert (bob.balance, bob.lifetime_spend) == (600, Decimal("600.00"))
    o1 = Purchase.objects.get(external_ref="O-1")
    assert [(i.sku, i.quantity, i.category.code) for i in o1.items.order_by("id")] == [
        ("ROSE-11", 2, "roses"),
        ("CARD-1", 1, "cards"),
    ]
    assert LedgerEntry.objects.get(purchase=o1).points == 209
    for member in people.values():
        assert_ledger_invariants(member)


def test_an_api_retry_of_an_imported_reference_answers_200(tmp_path, people, api_staff):
    run(write(tmp_path, GOOD))
    ordered_at = timezone.make_aware(datetime.datetime.fromisoformat(f"{YESTERDAY} 11:30"))
    body = {
        "member": people["bob"].member_no,
        "external_ref": "O-2",
        "ordered_at": ordered_at.isoformat(),
        "items": [{"sku": "ROSE-11", "quantity": 1, "unit_price": "600.00"}],
    }
    response = api_staff.post("/api/v1/purchases/", body, format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["points_earned"], response.json()["points_balance"]) == (600, 600)


def test_rerunning_the_same_file_skips_what_was_posted(tmp_path, people):
    path = write(tmp_path, GOOD)
    run(path)
    out, _err = run(path)
    assert "Posted 0 purchases" in out and "already posted, skipped: 2" in out
    assert PurchasePosting.objects.count() == 2
    assert account_of(people["alice"]).balance == 209


def test_a_reference_posted_with_other_content_is_a_conflict(tmp_path, people):
    post(people["alice"], "50.00", ref="O-1")
    message, rows = refused(write(tmp_path, GOOD))
    assert rows == [
        ["2", "external_ref", "O-1", "The external reference “O-1” was already used for a different purchase."]
    ]
    assert "nothing was imported" in message
    assert not Purchase.objects.filter(external_ref="O-2").exists()


def test_a_reference_recorded_without_points_is_a_conflict(tmp_path, people):
    factories.purchase(people["bob"], ref="O-2")
    _message, rows = refused(write(tmp_path, GOOD))
    assert [row[:2] for row in rows] == [["4", "external_ref"]]
    assert "without points" in rows[0][3]


BAD = f"""{HEADER}
B-1,NOBODY,{YESTERDAY} 10:00,ROSE-11,,1,10.00
B-2,POS-A,20-13-2024,ROSE-11,,1,10.00
B-3,POS-A,{YESTERDAY} 10:00,ROSE-11,,0,10.00
B-4,POS-A,{YESTERDAY} 10:00,ROSE-11,,1,-5.00
B-5,POS-A,{YESTERDAY} 10:00,ROSE-11,,1,10.00
B-5,POS-B,{YESTERDAY} 10:00,CARD-1,,1,10.00
B-6,POS-A,{YESTERDAY} 10:00,ROSE-11,,1,10.00
B-6,POS-A,{LAST_WEEK} 10:00,CARD-1,,1,10.00
B-7,POS-A,{YESTERDAY} 10:00,ROSE-11,,1
B-8,POS-A,{YESTERDAY} 10:00,ROSE-11,,two,10.00
B-9,POS-A,{YESTERDAY} 10:00,ROSE-11,,1,abc
B-10,POS-A,2999-01-01 10:00,ROSE-11,,1,10.00
OK-1,POS-B,{YESTERDAY} 10:00,ROSE-11,,1,10.00
"""


def test_every_error_is_reported_with_its_line_and_nothing_is_stored(tmp_path, people):
    _message, rows = refused(write(tmp_path, BAD))
    found = [(int(line), column) for line, column, _value, _text in rows]
    assert found == [
        (2, "member_external_id"),
        (3, "ordered_at"),
        (4, "quantity"),
        (5, "unit_price"),
        (7, "member_external_id"),
        (9, "ordered_at"),
        (10, ""),
        (11, "quantity"),
        (12, "unit_price"),
        (13, "ordered_at"),
    ]
    texts = {int(line): text for line, _column, _value, text in rows}
    assert "NOBODY" in texts[2]
    assert "above 0" in texts[4]
    assert "negative" in texts[5]
    assert "disagree" in texts[7] and "line 6" in texts[7]
    assert "Expected 7 values" in texts[10]
    assert "future" in texts[13]
    assert not Purchase.objects.exists()
    assert not LedgerEntry.objects.exists()


def test_skip_errors_posts_the_good_purchases_and_reports_the_bad(tmp_path, people):
    path = write(tmp_path, BAD)
    with pytest.raises(CommandError) as error:
        run(path, "--skip-errors")
    assert error.value.returncode == 1
    assert "10 purchases with errors were not posted" in str(error.value)
    assert list(Purchase.objects.values_list("external_ref", flat=True)) == ["OK-1"]
    assert account_of(people["bob"]).balance == 10


def test_an_erased_member_is_an_error(tmp_path, people):
    erase_member(member=people["bob"])
    _message, rows = refused(write(tmp_path, GOOD))
    # Erasure wipes the external id, so the member is not found any more.
    assert [row[:2] for row in rows] == [["4", "member_external_id"]]


def test_malformed_csv_and_encoding_and_columns(tmp_path, people):
    _message, rows = refused(write(tmp_path, f'{HEADER}\nO-1,POS-A,"{YESTERDAY}\n', name="quote.csv"))
    assert rows[0][0] == "2" and "Expected 7 values" in rows[0][3]  # an unclosed quote swallows the rest
    message, rows = refused(write(tmp_path, f"{HEADER}\nO-1,POS-A,{'x' * 200_000},R,,1,1\n", name="huge.csv"))
    assert "Line 2" in message and "not valid CSV" in message
    message, _rows = refused(write(tmp_path, f"{HEADER}\nO-1,POS-Ä,{YESTERDAY},R,,1,1\n", encoding="latin-1"))
    assert "not UTF-8" in message
    message, rows = refused(write(tmp_path, "external_ref,member_external_id,sku\nO-1,POS-A,R\n", name="cols.csv"))
    assert rows[0][0] == "1" and "ordered_at" in rows[0][1] and "missing" in rows[0][3]


def test_dry_run_checks_everything_and_stores_nothing(tmp_path, people):
    out, _err = run(write(tmp_path, GOOD), "--dry-run")
    assert "would post 2 purchases (3 lines)" in out
    assert not Purchase.objects.exists()
    message, rows = refused(write(tmp_path, BAD, name="bad.csv"), "--dry-run")
    assert len(rows) == 10 and "have errors" in message
    assert not Purchase.objects.exists()


def test_an_out_of_order_file_is_posted_in_time_order_per_member(tmp_path, people):
    days = [(timezone.localdate() - datetime.timedelta(days=n)).isoformat() for n in (1, 30, 60)]
    text = f"""{HEADER}
LATE,POS-A,{days[0]} 10:00,ROSE-11,,1,600.00
EARLY,POS-A,{days[2]} 10:00,ROSE-11,,1,300.00
MIDDLE,POS-A,{days[1]} 10:00,ROSE-11,,1,300.00
"""
    run(write(tmp_path, text))
    history = TierHistory.objects.get(member=people["alice"])
    assert (history.to_tier.code, history.purchase.external_ref) == ("silver", "LATE")
    balances = {p.purchase.external_ref: p.points_balance for p in PurchasePosting.objects.select_related("purchase")}
    assert balances == {"EARLY": 300, "MIDDLE": 600, "LATE": 1200}


def test_batches_split_a_members_purchases_in_time_order(tmp_path, people):
    lines = [HEADER]
    for n in range(7):
        day = (timezone.localdate() - datetime.timedelta(days=10 - n)).isoformat()
        lines.append(f"S-{n},POS-A,{day} 10:00,ROSE-11,,1,200.00")
    run(write(tmp_path, "\n".join(reversed(lines[1:])).join([HEADER + "\n", "\n"])), "--batch-size", "2")
    upgrade = TierHistory.objects.get(member=people["alice"])
    assert upgrade.purchase.external_ref == "S-4"  # the fifth purchase in time reaches 1,000
    assert account_of(people["alice"]).balance == 1400


def test_optional_store_channel_and_name_columns(tmp_path, people):
    text = f"""{HEADER},store,channel,name
O-9,POS-A,{YESTERDAY} 09:00,ROSE-11,,1,10.00,sh-001,wechat,Red roses
O-8,POS-A,{YESTERDAY} 09:00,ROSE-11,,1,10.00,nowhere,fax,
"""
    _message, rows = refused(write(tmp_path, text))
    assert [row[:2] for row in rows] == [["3", "channel"], ["3", "store"]]
    run(write(tmp_path, text.splitlines()[0] + "\n" + text.splitlines()[1] + "\n", name="one.csv"))
    purchase = Purchase.objects.get(external_ref="O-9")
    assert (purchase.store.code, purchase.channel, purchase.items.get().name) == ("sh-001", "wechat", "Red roses")


def test_the_service_reports_progress_in_both_phases(people):
    phases = []
    import_purchases(stream=io.StringIO(GOOD), progress=lambda phase, count: phases.append((phase, count)))
    assert phases[0] == ("read", 3) and phases[-1] == ("post", 2)


def test_the_actor_given_with_by_is_recorded(tmp_path, people, manager):
    run(write(tmp_path, GOOD), "--by", manager.username)
    assert set(LedgerEntry.objects.values_list("actor__username", flat=True)) == {manager.username}


def test_an_import_gives_referral_rewards_and_partner_offers_once_committed(
    tmp_path, people, django_capture_on_commit_callbacks
):
    from campaigns.models import PartnerOfferIssue, ReferralReward
    from tests.campaigns.referral_helpers import coupon_offer

    offer = coupon_offer(threshold="500.00")
    referred = factories.member(name="张新客", external_id="POS-R", referral_code=people["alice"].referral_code)
    text = f"{GOOD}O-3,POS-R,{YESTERDAY} 12:00,ROSE-11,,1,88.00\nO-4,POS-R,{YESTERDAY} 13:00,ROSE-11,,1,520.00\n"
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        run(write(tmp_path, text))
    assert len(callbacks) == 2  # for the whole import: referral rewards, partner offers
    reward = ReferralReward.objects.get()
    assert (reward.referred, reward.referrer, reward.purchase.external_ref) == (referred, people["alice"], "O-3")
    issued = PartnerOfferIssue.objects.order_by("purchase__external_ref")
    assert list(issued.values_list("offer", "purchase__external_ref")) == [(offer.pk, "O-2"), (offer.pk, "O-4")]


def test_an_imports_queries_do_not_grow_with_its_purchases(people, django_capture_on_commit_callbacks):
    """Per batch, a fixed number of queries, the after-commit work (referral rewards when
    nobody was referred, partner offers nobody reaches) included."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.campaigns.referral_helpers import coupon_offer

    coupon_offer(threshold="100000.00")

    def queries(count: int, prefix: str) -> int:
        for i in range(count):
            factories.member(external_id=f"{prefix}-{i}")
        rows = "".join(
            f"{prefix}{i},{prefix}-{i},{LAST_WEEK} 10:00,ROSE-11,roses,1,99.50\n"
            f"{prefix}{i},{prefix}-{i},{LAST_WEEK} 10:00,CARD-1,cards,1,10.00\n"
            for i in range(count)
        )
        with CaptureQueriesContext(connection) as captured, django_capture_on_commit_callbacks(execute=True):
            result = import_purchases(stream=io.StringIO(f"{HEADER}\n{rows}"))
        assert result.posted == count
        return len(captured)

    queries(1, "WARM")  # the settings and tiers cached on first use
    assert queries(2, "FEW") == queries(40, "MANY")


def test_a_nul_character_in_a_cell_is_a_row_error_with_its_line(tmp_path, people):
    text = f"{HEADER}\nO-1,POS-A,{YESTERDAY} 10:00,ROSE-11,,1,10.00\nO-2,POS-\x00,{YESTERDAY} 10:00,ROSE-11,,1,10.00\n"

    _message, rows = refused(write(tmp_path, text))

    assert rows == [["3", "member_external_id", "POS-\\u0000", "Null characters are not allowed."]]
    assert not Purchase.objects.exists()


def test_skip_errors_posts_the_purchases_without_nul_characters(tmp_path, people):
    text = f"{HEADER}\nO-1,POS-A,{YESTERDAY} 10:00,ROSE-11,,1,10.00\nO-\x00,POS-B,{YESTERDAY} 10:00,ROSE-11,,1,10.00\n"

    with pytest.raises(CommandError, match="1 purchase with errors was not posted"):
        run(write(tmp_path, text), "--skip-errors")

    assert list(Purchase.objects.values_list("external_ref", flat=True)) == ["O-1"]


def test_an_order_time_the_api_refuses_is_a_row_error(tmp_path, people):
    text = f"{HEADER}\nO-1,POS-A,0099-05-20 10:00,ROSE-11,,1,10.00\nO-2,POS-B,2024-05-20T10:00+16:00,ROSE-11,,1,10.00\n"

    _message, rows = refused(write(tmp_path, text))

    assert [(row[0], row[1], row[3]) for row in rows] == [
        ("2", "ordered_at", "Dates before 1900 are not accepted."),
        ("3", "ordered_at", "The UTC offset must be whole minutes between -15:59 and +15:59."),
    ]
    assert not Purchase.objects.exists()
