"""Classification against hand-computed cases (as of 2026-06-30, default policy: top 20% of the
12-month window, lapsed after 730 days)."""

import dataclasses
import datetime
import io
from decimal import Decimal

import numpy as np
import pytest
import time_machine
from django.core.management import call_command

from campaigns import clv
from campaigns.models import ClassificationPolicy, ClassificationRun, MemberScore
from campaigns.services.classification import add_months, classify_members
from members.models import Member, Purchase
from tests.campaigns.clv_helpers import generate_customers
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
    assert result.model == {
        "fitted": False,
        "reason": "no purchases",
        "problems": [{"code": "no_purchases", "params": {}}],
    }


def test_too_little_data_leaves_clv_empty_and_says_why(shop):
    result = classify_members(as_of=AS_OF)
    assert result.model["fitted"] is False
    assert "BG/NBD needs" in result.model["reason"]
    assert result.model["problems"] == [{"code": "bgnbd_too_few", "params": {"customers": "20", "repeat": "10"}}]
    assert not MemberScore.objects.filter(clv__isnull=False).exists()


def test_why_the_fit_was_not_used_is_shown_in_the_readers_language(shop):
    from django.utils import translation

    from campaigns.admin.segments import describe_model

    model = classify_members(as_of=AS_OF).model
    with translation.override("en"):
        english = describe_model(model)
    with translation.override("zh-hans"):
        chinese = describe_model(model)
    assert model["reason"] in english  # the English sentence the run stored for logs
    assert "BG/NBD" in chinese and model["reason"] not in chinese
    assert "至少需要 20 位客户" in chinese


def test_runs_recorded_before_reason_codes_show_their_stored_sentence():
    from campaigns.model_reasons import bgnbd_reason, gamma_gamma_reason

    old = {"fitted": False, "reason": "a collapsed to 1e-09", "gamma_gamma_reason": "Gamma-Gamma needs at least 10"}
    assert bgnbd_reason(old) == "a collapsed to 1e-09"
    assert gamma_gamma_reason(old) == "Gamma-Gamma needs at least 10"


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


# --- churn risk: the BG/NBD fit, or the recency rule when the fit degenerates -------------------


def _scores_by_member() -> dict[int, MemberScore]:
    return {s.member_id: s for s in MemberScore.objects.all()}


@pytest.fixture
def demo_shop(settings):
    """`seed_demo`'s shop (150 members) on a fixed day: Poisson shoppers who never drop out."""
    settings.DEBUG = True  # seed_demo runs only in development
    day = datetime.datetime(2026, 6, 30, 12, tzinfo=datetime.UTC)
    with time_machine.travel(day, tick=False):
        call_command("seed_demo", members=150, stdout=io.StringIO(), stderr=io.StringIO())
        result = classify_members()
    return result


def test_on_the_demo_data_the_degenerate_fit_is_refused_and_the_rule_gives_churn_risk(demo_shop):
    """The outside check: churn risk 0% for every demo member, 1,073 days of silence included."""
    buyers = list(MemberScore.objects.exclude(last_purchase_at=None))
    assert buyers and all(s.churn_risk is not None and s.clv is not None for s in buyers)
    assert all(s.churn_risk == pytest.approx(1 - s.p_alive, abs=1e-9) for s in buyers)
    long_silent = [s for s in buyers if s.recency_days >= 1000]  # the check found one at 1,073 days
    assert long_silent and all(s.churn_risk > 0.8 for s in long_silent)
    regulars = [s for s in buyers if s.purchases_12m >= 4 and s.recency_days <= 14]
    assert regulars and all(s.churn_risk < 0.25 for s in regulars)
    model = demo_shop.model
    assert (model["fitted"], model["method"]) == (False, "rule")
    assert model["reason"].startswith("a collapsed to")  # nobody ever drops out: a → 0
    assert model["rejected_bgnbd"]["penalizer_coef"] == 0.001 and model["gamma_gamma"] is not None
    assert ClassificationRun.objects.order_by("-pk").first().model == model  # seed_demo classifies too: the latest run


def lapsed_and_active(as_of: datetime.date) -> dict:
    """Three members whose churn risk is plain to a person, bought at noon local time."""

    def days_ago(n: int) -> datetime.datetime:
        return at((as_of - datetime.timedelta(days=n)).isoformat())

    people = {name: member(name) for name in ("monthly_then_gone", "weekly_regular", "once_long_ago")}
    for k in range(12):  # monthly for a year, then nothing for 1,030 days
        buy(people["monthly_then_gone"], "199.00", days_ago(1030 + 30 * (11 - k)))
    for k in range(30):  # weekly for 30 weeks, the last 2 days ago
        buy(people["weekly_regular"], "99.00", days_ago(2 + 7 * (29 - k)))
    buy(people["once_long_ago"], "520.00", days_ago(1050))
    return people


def generated_shop(as_of: datetime.date, n: int = 400, seed: int = 20260630) -> dict[str, np.ndarray]:
    """`n` BG/NBD customers (tests/campaigns/clv_helpers.py) as members with purchases, and the
    model's inputs in days read from them in Python (distinct purchase days)."""
    customers = generate_customers(n, seed=seed)
    spend = np.random.default_rng(seed)  # Gamma-Gamma's story: each member's own mean, varying around it
    Member.objects.bulk_create(
        Member(member_no=f"G{i:07d}", referral_code=f"GR{i:06d}", name=f"G{i:04d}") for i in range(n)
    )
    ids = dict(Member.objects.filter(member_no__startswith="G").values_list("name", "pk"))
    purchases, inputs = [], []
    for i, customer in enumerate(customers):
        T = int(customer.T)
        days = sorted({0, *(int(day) for day in customer.repeats)})
        inputs.append((len(days) - 1, days[-1], T))
        own_mean = spend.gamma(6.0, 200.0 / 6.0)
        for k, day in enumerate(days):
            total = Decimal(f"{max(spend.gamma(4.0, own_mean / 4.0), 1.0):.2f}")
            purchases.append(
                Purchase(
                    member_id=ids[f"G{i:04d}"],
                    external_ref=f"GEN-{i:04d}-{k:03d}",
                    ordered_at=at((as_of - datetime.timedelta(days=T - day)).isoformat()),
                    subtotal=total,
                    total=total,
                )
            )
    Purchase.objects.bulk_create(purchases)
    x, t_x, T = (np.array(column, dtype=float) for column in zip(*inputs, strict=True))
    return {"x": x, "t_x": t_x, "T": T}


def test_on_generated_customers_the_fit_is_used_and_churn_risk_is_what_a_person_expects():
    people = lapsed_and_active(AS_OF)
    generated_shop(AS_OF)
    result = classify_members(as_of=AS_OF)
    model = result.model
    assert (model["fitted"], model["method"]) == (True, "bgnbd") and "reason" not in model
    assert model["penalizer_coef"] == clv.DEFAULT_PENALIZER
    s = _scores_by_member()
    assert s[people["monthly_then_gone"].pk].churn_risk > 0.8
    assert s[people["weekly_regular"].pk].churn_risk < 0.2
    assert s[people["once_long_ago"].pk].churn_risk > 0.8  # one-time buyers: the rule, whatever the fit
    assert s[people["weekly_regular"].pk].clv > s[people["monthly_then_gone"].pk].clv


def test_the_fit_on_the_database_is_the_reference_librarys_fit_of_the_same_customers():
    """The SQL aggregation and the fit together, against `lifetimes` on inputs read in Python."""
    lifetimes = pytest.importorskip("lifetimes")
    inputs = generated_shop(AS_OF)
    model = classify_members(as_of=AS_OF).model
    x, t_x, T = inputs["x"], inputs["t_x"], inputs["T"]
    with np.errstate(all="ignore"):
        reference = lifetimes.BetaGeoFitter(penalizer_coef=clv.DEFAULT_PENALIZER).fit(x, t_x, T)
    theirs = clv.BGNBDParams(**{k: float(reference.params_[k]) for k in ("r", "alpha", "a", "b")})
    ours = clv.BGNBDParams(**{k: model["bgnbd"][k] for k in ("r", "alpha", "a", "b")})
    assert model["bgnbd"]["log_likelihood"] == pytest.approx(
        float(clv.bgnbd_log_likelihood(theirs, x, t_x, T).sum()), abs=1e-3
    )
    assert clv.bgnbd_objective(ours, x, t_x, T, penalizer_coef=clv.DEFAULT_PENALIZER) <= (
        reference._negative_log_likelihood_ + 1e-8
    )
    np.testing.assert_allclose(
        clv.probability_alive(ours, x, t_x, T), clv.probability_alive(theirs, x, t_x, T), atol=1e-4
    )


def test_when_the_fit_is_refused_every_buyer_gets_the_rules_churn_risk(monkeypatch):
    """The fallback on data the model would describe: forced by a fit that did not converge."""
    people = lapsed_and_active(AS_OF)
    generated_shop(AS_OF)
    fit_bgnbd = clv.fit_bgnbd

    def not_converged(*args, **kwargs):
        return dataclasses.replace(fit_bgnbd(*args, **kwargs), converged=False, message="ABNORMAL_TERMINATION")

    monkeypatch.setattr(clv, "fit_bgnbd", not_converged)
    model = classify_members(as_of=AS_OF).model
    assert (model["fitted"], model["method"]) == (False, "rule")
    assert model["reason"] == "the optimiser did not converge (ABNORMAL_TERMINATION)"
    s = _scores_by_member()
    assert s[people["monthly_then_gone"].pk].churn_risk > 0.99
    assert s[people["weekly_regular"].pk].churn_risk < 0.3  # 2 days into a 7-day gap: 0.25
    assert s[people["once_long_ago"].pk].churn_risk > 0.9
    # P(alive) = (1 + k/x)^−x: the weekly regular, 29 gaps of 7 days, silent 2 days.
    assert s[people["weekly_regular"].pk].p_alive == pytest.approx((1 + (2 / 7) / 29) ** -29, abs=1e-6)
    assert not MemberScore.objects.filter(last_purchase_at__isnull=False, churn_risk__isnull=True).exists()


def test_managers_and_marketers_see_which_method_produced_the_churn_risk(client, manager, marketing, monkeypatch):
    lapsed_and_active(AS_OF)
    generated_shop(AS_OF, n=120)
    classify_members(as_of=AS_OF)
    client.force_login(marketing)
    scores = client.get("/admin/campaigns/memberscore/").content.decode()
    assert "Churn risk and CLV:" in scores and "BG/NBD r=" in scores
    fit_bgnbd = clv.fit_bgnbd
    monkeypatch.setattr(
        clv, "fit_bgnbd", lambda *a, **k: dataclasses.replace(fit_bgnbd(*a, **k), converged=False, message="NO")
    )
    classify_members(as_of=AS_OF)
    scores = client.get("/admin/campaigns/memberscore/").content.decode()
    assert "Churn risk from the recency rule" in scores and "the optimiser did not converge (NO)" in scores
    client.force_login(manager)
    runs = client.get("/admin/campaigns/classificationrun/").content.decode()
    assert runs.count("Churn risk from the recency rule") == 1 and runs.count("BG/NBD r=") == 1


def test_the_command_says_which_method_produced_the_churn_risk(monkeypatch):
    generated_shop(AS_OF, n=120)
    out = io.StringIO()
    call_command("classify_members", "--as-of", AS_OF.isoformat(), "--no-progress", stdout=out)
    assert "CLV model (BG/NBD, days, penalizer 0.001): r=" in out.getvalue()
    assert "recency rule" not in out.getvalue() and "Gamma-Gamma: p=" in out.getvalue()
    fit_bgnbd = clv.fit_bgnbd
    monkeypatch.setattr(
        clv, "fit_bgnbd", lambda *a, **k: dataclasses.replace(fit_bgnbd(*a, **k), converged=False, message="NO")
    )
    out = io.StringIO()
    call_command("classify_members", "--as-of", AS_OF.isoformat(), "--no-progress", stdout=out)
    assert "CLV model not fitted: the optimiser did not converge (NO)." in out.getvalue()
    assert "Churn risk and expected purchases from the recency rule" in out.getvalue()


def test_too_few_buyers_for_the_model_still_get_the_rules_churn_risk_but_no_clv():
    people = lapsed_and_active(AS_OF)
    model = classify_members(as_of=AS_OF).model
    assert (model["fitted"], model["method"]) == (False, "rule")
    assert model["reason"].startswith("BG/NBD needs at least 20 customers")
    assert model["gamma_gamma"] is None and model["gamma_gamma_reason"].startswith("Gamma-Gamma needs")
    assert model["typical_gap_days"] == 18.5  # the median of the two repeat buyers' gaps, 30 and 7 days
    s = _scores_by_member()
    assert s[people["monthly_then_gone"].pk].churn_risk > 0.99
    assert s[people["weekly_regular"].pk].churn_risk < 0.3
    assert s[people["once_long_ago"].pk].churn_risk == pytest.approx(1 - 1 / (1 + 1050 / 18.5), abs=1e-6)
    assert all(score.clv is None for score in s.values())
