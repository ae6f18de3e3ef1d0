"""Classification against hand-computed cases (as of 2026-06-30, default policy: top 20% of the
12-month window, lapsed after 730 days)."""

import datetime
from decimal import Decimal

import pytest

from campaigns.classification import add_months, classify_members
from campaigns.models import ClassificationPolicy, ClassificationRun, MemberScore
from tests.campaigns.segment_helpers import at, buy, member

pytestmark = pytest.mark.django_db

AS_OF = datetime.date(2026, 6, 30)


@pytest.fixture
def shop():
    """Fifteen members; the window of AS_OF is 2025-07-01 … 2026-06-30 (local days)."""
    m = {name: member(name) for name in "ABCDEFGHIJKLMNO"}
    buy(m["A"], "1000.00", at("2026-06-01"))
    buy(m["B"], "800.00", at("2026-05-01"))
    buy(m["C"], "800.00", at("2026-04-01"))  # tied with B at the 20% boundary
    buy(m["D"], "500.00", at("2026-03-01"))
    buy(m["E"], "300.00", at("2026-02-01"))
    buy(m["F"], "200.00", at("2026-01-01"))
    buy(m["G"], "100.00", at("2025-12-01"))
    buy(m["H"], "50.00", at("2025-07-01", "00:10"))  # first minutes of the window (local time)
    buy(m["I"], "100.00", at("2025-06-30", "23:50"))  # last minutes before the window
    buy(m["J"], "100.00", at("2024-06-29"))  # 731 days before AS_OF: lapsed
    buy(m["K"], "100.00", at("2024-06-30"))  # 730 days: not yet lapsed
    # L never bought
    buy(m["M"], "500.00", at("2026-06-15"), refunded="500.00")  # fully refunded: no purchase
    buy(m["N"], "300.00", at("2026-07-01", "00:05"))  # after AS_OF: not counted
    buy(m["O"], "900.00", at("2026-06-10"), refunded="300.00")  # counts 600 net
    return m


def scores(m):
    by_id = {s.member_id: s for s in MemberScore.objects.all()}
    return {name: by_id[mem.pk] for name, mem in m.items()}


def test_classes_follow_the_definitions(shop):
    result = classify_members(as_of=AS_OF)
    s = scores(shop)
    classes = {name: score.classification for name, score in s.items()}
    # Window buyers, not lapsed: A 1000, B 800, C 800, O 600, D 500, E 300, F 200, G 100, H 50 → N = 9.
    # High value: fewer than 20% × 9 = 1.8 spent more → A (0 above), B and C (1 above each, tied).
    assert classes == {
        "A": "high_value", "B": "high_value", "C": "high_value",
        "D": "potential", "E": "potential", "F": "potential", "G": "potential", "H": "potential", "O": "potential",
        "I": "ordinary", "K": "ordinary",
        "J": "lapsed",
        "L": "no_purchases", "M": "no_purchases", "N": "no_purchases",
    }  # fmt: skip
    assert result.members == 15
    assert result.counts == {"high_value": 3, "potential": 6, "ordinary": 2, "lapsed": 1, "no_purchases": 3}
    run = ClassificationRun.objects.get()
    assert run.as_of == AS_OF and run.counts == result.counts
    assert run.settings == {
        "high_value_share": 20, "window_months": 12, "lapsed_after_days": 730, "clv_horizon_months": 12,
    }  # fmt: skip


def test_window_figures_are_net_of_refunds_and_ignore_later_purchases(shop):
    classify_members(as_of=AS_OF)
    s = scores(shop)
    assert (s["O"].spend_12m, s["O"].purchases_12m, s["O"].recency_days) == (Decimal("600.00"), 1, 20)
    assert (s["H"].spend_12m, s["H"].purchases_12m, s["H"].recency_days) == (Decimal("50.00"), 1, 364)
    assert (s["I"].spend_12m, s["I"].purchases_12m, s["I"].recency_days) == (Decimal("0.00"), 0, 365)
    assert s["J"].recency_days == 731 and s["K"].recency_days == 730
    for name in "LMN":
        assert (s[name].spend_12m, s[name].purchases_12m, s[name].last_purchase_at) == (Decimal("0.00"), 0, None)
        assert s[name].r_score is None and s[name].rfm_score is None and s[name].clv is None
    assert s["A"].last_purchase_at == at("2026-06-01")
    assert all(score.as_of == AS_OF for score in s.values())


def test_rfm_quintiles_rank_ties_together(shop):
    classify_members(as_of=AS_OF)
    s = scores(shop)
    # 12 buyers. Score = 1 + ⌊5 × (rank − 1) / 12⌋, ranked worst first, ties sharing the first rank.
    # Recency (days, most first): J 731, K 730, I 365, H 364, G 211, F 180, E 149, D 121, C 90, B 60, A 29, O 20.
    assert {n: s[n].r_score for n in "JKIHGFEDCBAO"} == dict(
        zip("JKIHGFEDCBAO", [1, 1, 1, 2, 2, 3, 3, 3, 4, 4, 5, 5], strict=True)
    )
    # Frequency: I, J, K have none in the window (rank 1 → 1); the nine others one each (rank 4 → 2).
    assert {n: s[n].f_score for n in "IJK"} == {"I": 1, "J": 1, "K": 1}
    assert {s[n].f_score for n in "ABCDEFGHO"} == {2}
    # Monetary: 0, 0, 0 (1) · 50 (rank 4 → 2) · 100 (r5 → 2) · 200, 300, 500 (r6–8 → 3) · 600 (r9 → 4)
    #           · 800, 800 (r10 → 4) · 1000 (r12 → 5)
    assert {n: s[n].m_score for n in "IJKHGFEDOBCA"} == dict(
        zip("IJKHGFEDOBCA", [1, 1, 1, 2, 2, 3, 3, 3, 4, 4, 4, 5], strict=True)
    )
    assert s["A"].rfm_score == 5 + 2 + 5
    assert s["J"].rfm_score == 1 + 1 + 1


def test_a_later_as_of_date_moves_the_window(shop):
    classify_members(as_of=datetime.date(2026, 7, 1))
    s = scores(shop)
    assert s["K"].classification == "lapsed"  # now 731 days
    assert s["H"].classification == "ordinary"  # 2025-07-01 left the window
    assert s["N"].classification == "potential"  # bought on 2026-07-01
    assert s["H"].recency_days == 365


def test_policy_changes_share_and_lapse(shop):
    policy = ClassificationPolicy.current()
    policy.high_value_share = 50
    policy.lapsed_after_days = 200
    policy.save()
    classify_members(as_of=AS_OF)
    s = scores(shop)
    classes = {name: score.classification for name, score in s.items()}
    # Lapsed first (last purchase > 200 days ago): G (211), H, I, J, K.
    assert {n for n, c in classes.items() if c == "lapsed"} == set("GHIJK")
    # Ranked: A, B, C, O, D, E, F → N = 7, 50% → fewer than 3.5 above: A, B, C (ranks 1, 2, 2), O (rank 4 → 3 above).
    assert {n for n, c in classes.items() if c == "high_value"} == set("ABCO")
    assert {n for n, c in classes.items() if c == "potential"} == set("DEF")
    assert not [n for n, c in classes.items() if c == "ordinary"]


def test_a_second_run_rewrites_the_same_rows(shop):
    classify_members(as_of=AS_OF)
    first = {s.member_id: (s.pk, s.classification) for s in MemberScore.objects.all()}
    buy(shop["L"], "5000.00", at("2026-06-29"))
    classify_members(as_of=AS_OF)
    second = {s.member_id: (s.pk, s.classification) for s in MemberScore.objects.all()}
    assert {k: v[0] for k, v in first.items()} == {k: v[0] for k, v in second.items()}  # upserted, not duplicated
    assert second[shop["L"].pk][1] == "high_value"
    assert MemberScore.objects.count() == 15


def test_no_members_at_all():
    result = classify_members(as_of=AS_OF)
    assert result.members == 0 and MemberScore.objects.count() == 0
    assert result.model == {"fitted": False, "reason": "no purchases"}


def test_too_little_data_leaves_clv_empty_and_says_why(shop):
    result = classify_members(as_of=AS_OF)
    assert result.model["fitted"] is False
    assert "BG/NBD needs" in result.model["reason"]
    assert not MemberScore.objects.filter(clv__isnull=False).exists()


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        ("2026-06-30", -12, "2025-06-30"),
        ("2026-03-31", -1, "2026-02-28"),
        ("2024-02-29", -12, "2023-02-28"),
        ("2026-01-15", 12, "2027-01-15"),
    ],
)
def test_add_months_clamps_to_the_month_end(day, months, expected):
    assert add_months(datetime.date.fromisoformat(day), months) == datetime.date.fromisoformat(expected)
