"""Ledger reasons: stored as a code and its parameters, rendered in the reader's language."""

from __future__ import annotations

import datetime
import importlib
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from members.services import PurchaseDraft
from rewards import services
from rewards.ledger_reasons import TEMPLATES, Reason, render
from rewards.models import ActivityBonus, Coupon, LedgerEntry, Redemption, RewardKind
from rewards.services import batch, expiry
from rewards.services import coupons as coupon_services
from rewards.services.redemptions import cancel_redemption, redeem_reward
from tests.members import factories
from tests.rewards import catalogue_factories as cf
from tests.rewards.helpers import account_of, line, post

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("rewards.migrations.0014_ledger_reasons_from_text")


@pytest.fixture
def member():
    return factories.member()


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def reason_in(language: str, entry: LedgerEntry) -> str:
    with translation.override(language):
        return entry.reason_text


# --- the renderer ----------------------------------------------------------------------------


def test_every_code_but_note_has_a_sentence():
    assert set(TEMPLATES) == set(Reason.values) - {Reason.NOTE}


@pytest.mark.parametrize(
    ("code", "params", "english", "chinese"),
    [
        (Reason.PURCHASE, {"ref": "ADM-1"}, "Purchase ADM-1", "消费 ADM-1"),
        (Reason.REFUND, {"ref": "R-1", "purchase": "ADM-1"}, "Refund R-1 of purchase ADM-1", "消费 ADM-1 的退款 R-1"),
        (Reason.REDEMPTION, {"quantity": 2, "reward": "Vase"}, "Redeemed 2 × Vase", "兑换 2 × Vase"),
        (Reason.REDEMPTION_CANCELLED, {"reward": "Vase"}, "Redemption of Vase cancelled", "Vase 的兑换已取消"),
        (
            Reason.EXPIRY,
            {"date": "2025-12-31"},
            "Expired: points left from 2025-12-31",
            "已过期：2025-12-31 获得的剩余积分",
        ),
        (
            Reason.EXPIRED_AT_ONCE,
            {"date": "2025-12-31"},
            "Expired on 2025-12-31, before it was recorded",
            "已于 2025-12-31 过期（早于录入时间）",
        ),
        (Reason.BONUS, {"bonus": "birthday"}, "Bonus: Birthday", "奖励：生日"),
        (Reason.CAMPAIGN, {"name": "Spring"}, "Campaign: Spring", "营销活动：Spring"),
        (
            Reason.REFERRAL_WELCOME,
            {"member_no": "M1"},
            "Referral: welcome (referred by M1)",
            "推荐有礼：欢迎礼（推荐人 M1）",
        ),
        (
            Reason.REFERRAL_FIRST_PURCHASE,
            {"member_no": "M2"},
            "Referral: M2 made a first purchase",
            "推荐有礼：M2 完成首次消费",
        ),
    ],
)
def test_each_code_renders_in_the_active_language(code, params, english, chinese):
    with translation.override("en"):
        assert render(code, params) == english
    with translation.override("zh-hans"):
        assert render(code, params) == chinese


def test_a_note_an_unknown_code_or_unfit_parameters_read_as_the_stored_text():
    assert render(Reason.NOTE, {}, "goodwill") == "goodwill"
    assert render("written_by_a_later_version", {"x": 1}, "stored") == "stored"
    assert render(Reason.PURCHASE, {"wrong": "name"}, "stored") == "stored"
    assert render(Reason.REDEMPTION, {"quantity": "two", "reward": "Vase"}, "") == ""
    assert render(Reason.PURCHASE, ["not", "a", "mapping"], "stored") == "stored"


def test_a_points_payment_names_its_purchase():
    with translation.override("en"):
        assert render(Reason.POINTS_PAYMENT, {"ref": "T-1"}) == "Paid with points: purchase T-1"


def test_a_typed_note_follows_the_sentence():
    with translation.override("en"):
        assert render(Reason.REDEMPTION_CANCELLED, {"reward": "Vase"}, "mistake") == (
            "Redemption of Vase cancelled: mistake"
        )
        assert render(Reason.BONUS, {"bonus": "referral", "reference": "M7"}) == "Bonus: Referral (M7)"


# --- the writers -----------------------------------------------------------------------------


def test_a_purchase_posted_in_chinese_reads_in_english_for_an_english_reader(member):
    with translation.override("zh-hans"):
        post(member, "10.00", ref="ADM-1")
    entry = LedgerEntry.objects.get(kind="earn")
    assert (entry.reason_code, entry.reason_params, entry.reason) == ("purchase", {"ref": "ADM-1"}, "")
    assert reason_in("en", entry) == "Purchase ADM-1"
    assert reason_in("zh-hans", entry) == "消费 ADM-1"


def test_refund_redemption_adjustment_and_bonus_rows_carry_codes(member, manager):
    with translation.override("zh-hans"):
        post(member, "300.00", ref="ADM-2")
        services.refund_purchase(
            purchase=LedgerEntry.objects.get(kind="earn").purchase, external_ref="R-2", amount=Decimal("100.00")
        )
        services.adjust_points(member=member, points=5, reason="补偿 goodwill", actor=manager)
    rows = {e.kind: e for e in LedgerEntry.objects.all()}
    refund = rows["refund_reversal"]
    assert (refund.reason_code, refund.reason_params) == ("refund", {"ref": "R-2", "purchase": "ADM-2"})
    assert reason_in("en", refund) == "Refund R-2 of purchase ADM-2"
    adjustment = rows["adjustment"]
    assert (adjustment.reason_code, adjustment.reason) == ("note", "补偿 goodwill")
    assert reason_in("en", adjustment) == reason_in("zh-hans", adjustment) == "补偿 goodwill"


def test_an_activity_bonus_names_its_kind_in_the_readers_language(member):
    ActivityBonus.objects.update_or_create(
        kind=ActivityBonus.Kind.BIRTHDAY, defaults={"points": 50, "is_active": True, "limit": "yearly"}
    )
    with translation.override("zh-hans"):
        services.award_bonus(member=member, kind=ActivityBonus.Kind.BIRTHDAY)
    entry = LedgerEntry.objects.get(kind="bonus", reason_params__bonus="birthday")
    assert entry.reason_code == "bonus"
    assert reason_in("en", entry) == "Bonus: Birthday"
    assert reason_in("zh-hans", entry) == "奖励：生日"


def test_the_batch_posting_and_the_nightly_expiry_write_codes_not_sentences(member):
    old = timezone.now() - datetime.timedelta(days=800)  # its lot expired before it was recorded
    draft = PurchaseDraft(member=member, external_ref="OLD-1", ordered_at=old, items=[line("40.00")])
    with translation.override("zh-hans"):
        batch.post_purchases_batch(drafts=[draft])
        post(member, "30.00", ref="NEW-1")
    earn = LedgerEntry.objects.get(kind="earn", purchase__external_ref="OLD-1")
    assert (earn.reason_code, earn.reason_params, earn.reason) == ("purchase", {"ref": "OLD-1"}, "")
    at_once = LedgerEntry.objects.get(kind="expire")
    assert at_once.reason_code == "expired_at_once"
    assert reason_in("en", at_once) == f"Expired on {at_once.reason_params['date']}, before it was recorded"
    lot = account_of(member).lots.get(remaining__gt=0)
    with translation.override("zh-hans"):
        expiry.expire_due_lots(today=lot.expires_on + datetime.timedelta(days=1))
    nightly = LedgerEntry.objects.filter(kind="expire").latest("id")
    assert (nightly.reason_code, nightly.reason_params, nightly.reason) == (
        "expiry",
        {"date": lot.expires_on.isoformat()},
        "",
    )
    assert reason_in("en", nightly) == f"Expired: points left from {lot.expires_on.isoformat()}"


# --- the readers -----------------------------------------------------------------------------


def test_the_api_answers_the_reason_in_the_requests_language(api_staff, member):
    with translation.override("zh-hans"):
        post(member, "10.00", ref="ADM-1")
    url = f"/api/v1/members/{member.member_no}/ledger/"
    english = api_staff.get(url, HTTP_ACCEPT_LANGUAGE="en").json()["results"][0]
    chinese = api_staff.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").json()["results"][0]
    assert (english["reason"], english["reason_code"], english["reason_params"], english["note"]) == (
        "Purchase ADM-1",
        "purchase",
        {"ref": "ADM-1"},
        "",
    )
    assert chinese["reason"] == "消费 ADM-1"


def test_the_admin_ledger_and_member_page_show_the_readers_language(manager, member):
    with translation.override("zh-hans"):
        post(member, "10.00", ref="ADM-1")
    client = client_for(manager)
    ledger = reverse("admin:rewards_ledgerentry_changelist")
    page = reverse("admin:members_member_change", args=[member.pk])
    for url in (ledger, page):
        assert "Purchase ADM-1" in client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "消费 ADM-1" in client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
        assert "消费 ADM-1" not in client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_rendering_reasons_costs_no_query(api_staff, manager, member):
    post(member, "10.00")
    client = client_for(manager)
    ledger = reverse("admin:rewards_ledgerentry_changelist")
    api = f"/api/v1/members/{member.member_no}/ledger/"
    client.get(ledger)
    with CaptureQueriesContext(connection) as admin_few, CaptureQueriesContext(connection):
        client.get(ledger)
    with CaptureQueriesContext(connection) as api_few:
        api_staff.get(api)
    services.adjust_points(member=member, points=5, reason="goodwill", actor=manager)
    post(member, "20.00")
    services.refund_purchase(purchase=LedgerEntry.objects.filter(kind="earn").first().purchase, external_ref="R-9")
    with CaptureQueriesContext(connection) as admin_many:
        client.get(ledger)
    with CaptureQueriesContext(connection) as api_many:
        api_staff.get(api)
    assert (len(admin_many), len(api_many)) == (len(admin_few), len(api_few))


# --- the data migration ----------------------------------------------------------------------

LEGACY = [
    # (kind, stored text, code, params, note left in `reason`, language it was written in)
    ("earn", "Purchase ADM-1", "purchase", {"ref": "ADM-1"}, "", "en"),
    ("earn", "消费 ADM-2", "purchase", {"ref": "ADM-2"}, "", "zh-hans"),
    ("refund_reversal", "消费 ADM-2 的退款 R-1", "refund", {"ref": "R-1", "purchase": "ADM-2"}, "", "zh-hans"),
    ("spend", "Redeemed 2 × Vase", "redemption", {"quantity": 2, "reward": "Vase"}, "", "en"),
    ("spend", "兑换 1 × 花瓶", "redemption", {"quantity": 1, "reward": "花瓶"}, "", "zh-hans"),
    ("spend", "Paid with points: purchase T-9", "points_payment", {"ref": "T-9"}, "", "en"),
    ("redemption_return", "Redemption of Vase cancelled: changed mind", "redemption_cancelled", {"reward": "Vase"},
     "changed mind", "en"),
    ("redemption_return", "花瓶 的兑换已取消", "redemption_cancelled", {"reward": "花瓶"}, "", "zh-hans"),
    ("redemption_return", "花瓶 的兑换已取消: 在后台取消", "redemption_cancelled", {"reward": "花瓶"}, "", "zh-hans"),
    ("expire", "Expired: points left from 2025-12-31", "expiry", {"date": "2025-12-31"}, "", "en"),
    ("expire", "已过期：2025-12-31 获得的剩余积分", "expiry", {"date": "2025-12-31"}, "", "zh-hans"),
    ("expire", "已于 2024-12-31 过期（早于录入时间）", "expired_at_once", {"date": "2024-12-31"}, "", "zh-hans"),
    ("bonus", "Bonus: Birthday", "bonus", {"bonus": "birthday"}, "", "en"),
    ("bonus", "奖励：会员推荐 (M0007)", "bonus", {"bonus": "referral", "reference": "M0007"}, "", "zh-hans"),
    ("bonus", "营销活动：春季", "campaign", {"name": "春季"}, "", "zh-hans"),
    ("bonus", "Referral: welcome (referred by M0001)", "referral_welcome", {"member_no": "M0001"}, "", "en"),
    ("bonus", "推荐有礼：M0002 完成首次消费", "referral_first_purchase", {"member_no": "M0002"}, "", "zh-hans"),
    # A manager's adjustment that reads like a purchase stays the manager's note; so does free text.
    ("adjustment", "Purchase 7 was keyed twice", "note", {}, "Purchase 7 was keyed twice", "en"),
    ("bonus", "老客户回馈", "note", {}, "老客户回馈", "zh-hans"),
]  # fmt: skip


def historical_ledger():
    return (
        MigrationLoader(connection)
        .project_state(("rewards", MIGRATION.__name__.rsplit(".", 1)[1]))
        .apps.get_model("rewards", "LedgerEntry")
    )


def test_the_migration_turns_old_sentences_in_both_languages_into_codes(member):
    account = account_of(post(member, "1000.00").purchase.member)
    before = LedgerEntry.objects.order_by("-id").values_list("id", flat=True)[0]
    for kind, text, *_rest in LEGACY:
        LedgerEntry.objects.create(
            account=account, member=member, kind=kind, points=1, balance_after=account.balance, reason=text
        )
    assert MIGRATION.convert_rows(historical_ledger()) == len([row for row in LEGACY if row[2] != "note"])
    rows = list(LedgerEntry.objects.filter(id__gt=before).order_by("id"))
    assert [(e.reason_code, e.reason_params, e.reason) for e in rows] == [
        (code, params, note) for _kind, _text, code, params, note, _language in LEGACY
    ]
    # Each reads again as it was written, in the language it was written in (the new sentence of
    # a bonus with a reference and of a typed note waits for the catalogue in Chinese).
    for entry, (_kind, text, _code, _params, _note, language) in zip(rows, LEGACY, strict=True):
        if "(M0007)" not in text and "在后台取消" not in text:
            assert reason_in(language, entry) == text
    assert MIGRATION.convert_rows(historical_ledger()) == 0  # safe to run again


def test_the_migration_reversed_writes_the_sentences_back_in_english(member):
    account = account_of(post(member, "1000.00", ref="ADM-9").purchase.member)
    before = LedgerEntry.objects.order_by("-id").values_list("id", flat=True)[0]
    LedgerEntry.objects.create(
        account=account, member=member, kind="earn", points=1, balance_after=account.balance, reason="消费 ADM-3"
    )
    LedgerEntry.objects.create(
        account=account,
        member=member,
        kind="redemption_return",
        points=1,
        balance_after=account.balance,
        reason="Redemption of Vase cancelled: changed mind",
    )
    ledger = historical_ledger()
    MIGRATION.convert_rows(ledger)
    MIGRATION.backwards(MigrationLoader(connection).project_state().apps, None)
    assert LedgerEntry.objects.get(purchase__external_ref="ADM-9").reason == "Purchase ADM-9"
    assert list(LedgerEntry.objects.filter(id__gt=before).order_by("id").values_list("reason_code", "reason")) == [
        ("note", "Purchase ADM-3"),
        ("note", "Redemption of Vase cancelled: changed mind"),
    ]


# --- coupons voided and redemptions cancelled by code ------------------------------------------

MIGRATION_0016 = importlib.import_module("rewards.migrations.0016_coupon_redemption_reasons_from_text")


def test_a_back_office_cancellation_reads_in_the_readers_language(manager):
    member = cf.funded_member(300)
    redemption = redeem_reward(
        member=member, reward=cf.reward(name="Vase", kind=RewardKind.COUPON), idempotency_key="k"
    ).redemption
    with translation.override("zh-hans"):
        response = client_for(manager).post(
            reverse("admin:rewards_redemption_changelist"),
            {"action": "cancel_selected", "_selected_action": [redemption.pk]},
            HTTP_ACCEPT_LANGUAGE="zh-hans",
        )
    assert response.status_code == 302
    redemption.refresh_from_db()
    assert (redemption.cancel_reason_code, redemption.cancel_reason) == ("back_office", "")
    with translation.override("en"):
        assert redemption.cancel_reason_text == "Cancelled in the back office"
    with translation.override("zh-hans"):
        assert redemption.cancel_reason_text == "在后台取消"
    coupon = Coupon.objects.get(redemption=redemption)
    assert (coupon.void_reason_code, coupon.void_reason) == ("redemption_cancelled", "")
    with translation.override("zh-hans"):
        assert coupon.void_reason_text == "兑换已取消"
    returned = LedgerEntry.objects.get(kind="redemption_return")
    assert (returned.reason_code, returned.reason) == ("redemption_cancelled", "")  # no sentence as a note
    assert reason_in("en", returned) == "Redemption of Vase cancelled"
    page = client_for(manager).get(
        reverse("admin:rewards_redemption_change", args=[redemption.pk]), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert "Cancelled in the back office" in page.content.decode()


def test_a_typed_cancellation_note_stays_as_typed(manager):
    member = cf.funded_member(300)
    redemption = redeem_reward(member=member, reward=cf.reward(name="Vase"), idempotency_key="k").redemption
    cancel_redemption(redemption=redemption, actor=manager, reason="顾客改变主意")
    redemption.refresh_from_db()
    assert (redemption.cancel_reason_code, redemption.cancel_reason) == ("", "顾客改变主意")
    assert redemption.cancel_reason_text == "顾客改变主意"
    assert reason_in("en", LedgerEntry.objects.get(kind="redemption_return")) == (
        "Redemption of Vase cancelled: 顾客改变主意"
    )


def test_the_migration_gives_old_void_and_cancel_sentences_their_codes():
    member = cf.funded_member(1000)
    template = cf.template()
    coupons = [coupon_services.issue_coupon(template=template, member=member, source="manual") for _ in range(4)]
    texts = ["由员工作废", "The campaign message could not be sent.", "兑换已取消", "顾客不要了"]
    for coupon, text in zip(coupons, texts, strict=True):
        coupon_services.void_coupon(coupon=coupon, reason=text)
    reward = cf.reward()
    redemptions = [redeem_reward(member=member, reward=reward, idempotency_key=k).redemption for k in "ab"]
    cancel_redemption(redemption=redemptions[0], reason="在后台取消")
    cancel_redemption(redemption=redemptions[1], reason="mistake")
    apps = MigrationLoader(connection).project_state(("rewards", "0016_coupon_redemption_reasons_from_text")).apps
    MIGRATION_0016.convert(apps)
    assert [Coupon.objects.values_list("void_reason_code", "void_reason").get(pk=coupon.pk) for coupon in coupons] == [
        ("by_staff", ""),
        ("campaign_not_sent", ""),
        ("redemption_cancelled", ""),
        ("", "顾客不要了"),
    ]
    assert [
        Redemption.objects.values_list("cancel_reason_code", "cancel_reason").get(pk=r.pk) for r in redemptions
    ] == [("back_office", ""), ("", "mistake")]
    MIGRATION_0016.revert(apps)
    assert Coupon.objects.get(pk=coupons[0].pk).void_reason == "Voided by staff"
    assert Redemption.objects.values_list("cancel_reason_code", "cancel_reason").get(pk=redemptions[0].pk) == (
        "",
        "Cancelled in the back office",
    )
