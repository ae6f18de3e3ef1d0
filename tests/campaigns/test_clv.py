"""The CLV model against the `lifetimes` library on real data: the CDNOW sample (2,357 customers
of an online CD shop, 1997–98, weekly), which `lifetimes` ships. Fader, Hardie & Lee (2005) report
r = 0.243, α = 4.414, a = 0.793, b = 2.426 for it; Gamma-Gamma p = 6.25, q = 3.74, v = 15.44.
Those are the unpenalised fit (`penalizer_coef=0.0`); the product fits with lifetimes' L2 penalty
(`clv.DEFAULT_PENALIZER`), compared with the library at the same penalty by what the fit means —
its objective, log-likelihood and predictions — on CDNOW and on generated BG/NBD customers
(tests/campaigns/clv_helpers.py), where the truth is known."""

import numpy as np
import pytest

from campaigns import clv
from tests.campaigns.clv_helpers import TRUE_PARAMS, auc, generate_customers, summarise

lifetimes = pytest.importorskip("lifetimes")  # requirements-dev.txt pins it; CI has it


@pytest.fixture(scope="module")
def cdnow():
    from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value

    data = load_cdnow_summary_data_with_monetary_value()
    return {
        "x": data["frequency"].to_numpy(dtype=float),
        "t_x": data["recency"].to_numpy(dtype=float),
        "T": data["T"].to_numpy(dtype=float),
        "m": data["monetary_value"].to_numpy(dtype=float),
    }


@pytest.fixture(scope="module")
def library(cdnow):
    import pandas as pd
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    bg = BetaGeoFitter(penalizer_coef=0.0)
    bg.fit(pd.Series(cdnow["x"]), pd.Series(cdnow["t_x"]), pd.Series(cdnow["T"]))
    repeat = cdnow["x"] > 0
    gg = GammaGammaFitter(penalizer_coef=0.0)
    gg.fit(pd.Series(cdnow["x"][repeat]), pd.Series(cdnow["m"][repeat]))
    return bg, gg


@pytest.fixture(scope="module")
def ours(cdnow):
    bgnbd = clv.fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"], penalizer_coef=0.0)
    return bgnbd.params, clv.fit_gamma_gamma(cdnow["x"], cdnow["m"])


def test_bgnbd_parameters_match_the_library_and_the_paper(ours, library):
    bgnbd, _gg = ours
    bg, _ = library
    for name in ("r", "alpha", "a", "b"):
        assert getattr(bgnbd, name) == pytest.approx(bg.params_[name], rel=1e-4)
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert getattr(bgnbd, name) == pytest.approx(value, abs=0.001)


def test_gamma_gamma_parameters_match_the_library_and_the_paper(ours, library):
    _bg, gamma_gamma = ours
    _, gg = library
    for name in ("p", "q", "v"):
        assert getattr(gamma_gamma, name) == pytest.approx(gg.params_[name], rel=1e-4)
    assert (round(gamma_gamma.p, 2), round(gamma_gamma.q, 2), round(gamma_gamma.v, 2)) == (6.25, 3.74, 15.45)


def test_predictions_match_the_library(cdnow, ours, library):
    bgnbd, gamma_gamma = ours
    bg, gg = library
    x, t_x, T, m = cdnow["x"], cdnow["t_x"], cdnow["T"], cdnow["m"]
    ours_ = clv.predict(bgnbd, gamma_gamma, horizon=39.0, x=x, t_x=t_x, T=T, m=m)
    alive = np.asarray(bg.conditional_probability_alive(x, t_x, T))
    expected = np.asarray(bg.conditional_expected_number_of_purchases_up_to_time(39.0, x, t_x, T))
    value = np.asarray(gg.conditional_expected_average_profit(x, m))
    np.testing.assert_allclose(ours_.p_alive, alive, atol=1e-4)
    np.testing.assert_allclose(ours_.expected_purchases, expected, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(ours_.clv, expected * value, rtol=1e-3, atol=1e-3)
    # The paper's headline: the population expects about 1.4 repeat purchases in 39 weeks on average.
    assert 0.5 < float(np.mean(ours_.expected_purchases)) < 2.0


def test_a_customer_without_repeat_purchases_is_alive_and_valued_at_the_population_mean(ours):
    bgnbd, gamma_gamma = ours
    assert clv.probability_alive(bgnbd, [0], [0], [30])[0] == 1.0
    population = gamma_gamma.v * gamma_gamma.p / (gamma_gamma.q - 1)
    assert clv.expected_average_value(gamma_gamma, [0], [0])[0] == pytest.approx(population)


def test_the_likelihood_is_highest_at_the_fitted_parameters(cdnow, ours):
    bgnbd, _ = ours
    best = clv.bgnbd_log_likelihood(bgnbd, cdnow["x"], cdnow["t_x"], cdnow["T"]).sum()
    nudged = clv.BGNBDParams(r=bgnbd.r * 1.05, alpha=bgnbd.alpha, a=bgnbd.a, b=bgnbd.b)
    assert clv.bgnbd_log_likelihood(nudged, cdnow["x"], cdnow["t_x"], cdnow["T"]).sum() < best


def test_too_few_customers_is_refused():
    with pytest.raises(clv.FitError):
        clv.fit_bgnbd([1, 0, 2], [3, 0, 5], [10, 10, 10])
    with pytest.raises(clv.FitError):
        clv.fit_gamma_gamma([1, 2], [10.0, 20.0])


# --- the penalised fit (the product's) --------------------------------------------------------


def library_fit(x, t_x, T, penalizer_coef):
    from lifetimes import BetaGeoFitter

    with np.errstate(all="ignore"):
        return BetaGeoFitter(penalizer_coef=penalizer_coef).fit(x, t_x, T)


def library_params(fitter) -> clv.BGNBDParams:
    return clv.BGNBDParams(**{name: float(fitter.params_[name]) for name in ("r", "alpha", "a", "b")})


def assert_same_fit(ours_: clv.BGNBDFit, fitter, x, t_x, T):
    """Two fits mean the same when they reach the same objective (ours no worse), the same
    log-likelihood and the same predictions — not when an optimiser stops at the same digits."""
    theirs = library_params(fitter)
    assert clv.bgnbd_objective(theirs, x, t_x, T, penalizer_coef=ours_.penalizer_coef) == pytest.approx(
        fitter._negative_log_likelihood_, abs=1e-9
    )  # the same objective as the library's, evaluated at its optimum
    assert ours_.objective <= fitter._negative_log_likelihood_ + 1e-8
    their_ll = float(clv.bgnbd_log_likelihood(theirs, x, t_x, T).sum())
    assert ours_.log_likelihood == pytest.approx(their_ll, abs=1e-3)
    np.testing.assert_allclose(
        clv.probability_alive(ours_.params, x, t_x, T), clv.probability_alive(theirs, x, t_x, T), atol=1e-4
    )
    np.testing.assert_allclose(
        clv.expected_purchases(ours_.params, 39.0, x, t_x, T),
        clv.expected_purchases(theirs, 39.0, x, t_x, T),
        rtol=1e-3,
        atol=1e-4,
    )


def test_the_penalised_fit_matches_the_library_at_the_same_penalizer_on_cdnow(cdnow):
    x, t_x, T = cdnow["x"], cdnow["t_x"], cdnow["T"]
    fit = clv.fit_bgnbd(x, t_x, T)
    assert fit.penalizer_coef == clv.DEFAULT_PENALIZER == 0.001
    assert_same_fit(fit, library_fit(x, t_x, T, clv.DEFAULT_PENALIZER), x, t_x, T)
    assert clv.bgnbd_problems(fit, x, t_x, T) == []
    # The penalty costs little: 0.03% of the unpenalised log-likelihood on this data.
    unpenalised = clv.fit_bgnbd(x, t_x, T, penalizer_coef=0.0)
    assert unpenalised.log_likelihood - 0.001 * abs(unpenalised.log_likelihood) < fit.log_likelihood
    assert fit.log_likelihood < unpenalised.log_likelihood


@pytest.fixture(scope="module")
def generated():
    """3,000 customers of a shop that fits the model, observed for 2 months to 3 years."""
    return summarise(generate_customers(3000, seed=20261206))


def test_on_generated_customers_the_fit_matches_the_library_and_finds_the_truth(generated):
    x, t_x, T, alive = generated["x"], generated["t_x"], generated["T"], generated["alive"]
    fit = clv.fit_bgnbd(x, t_x, T)
    assert_same_fit(fit, library_fit(x, t_x, T, clv.DEFAULT_PENALIZER), x, t_x, T)
    assert clv.bgnbd_problems(fit, x, t_x, T) == []
    truth = TRUE_PARAMS
    # The purchase rates (r, α) are recovered; the dropout (a, b) is shrunk by the penalty along
    # its ridge, but its mean a / (a + b) stays close.
    assert fit.params.r / fit.params.alpha == pytest.approx(truth["r"] / truth["alpha"], rel=0.1)
    assert fit.params.r == pytest.approx(truth["r"], rel=0.15)
    mean_dropout = fit.params.a / (fit.params.a + fit.params.b)
    assert mean_dropout == pytest.approx(truth["a"] / (truth["a"] + truth["b"]), abs=0.05)
    # What the fit is for: P(alive) tells the customers still buying from those who left.
    repeat = x > 0
    assert auc(clv.probability_alive(fit.params, x, t_x, T)[repeat], alive[repeat]) > 0.85


def test_the_penalised_fit_reaches_one_optimum_from_any_start(generated):
    """The outside check's failure: unpenalised, data with little visible dropout leaves a flat
    ridge (a and b in the thousands) on which the optimiser stops anywhere — another CPU, another
    answer. With the penalty every start ends at the same point."""
    little_dropout = summarise(generate_customers(1500, seed=7, a=0.2, b=40.0))
    x, t_x, T = little_dropout["x"], little_dropout["t_x"], little_dropout["T"]
    starts = [None, clv.BGNBDParams(0.1, 10.0, 0.1, 0.1), clv.BGNBDParams(3.0, 300.0, 5.0, 50.0)]
    fits = [clv.fit_bgnbd(x, t_x, T, initial_params=start) for start in starts]
    for fit in fits[1:]:
        assert fit.objective == pytest.approx(fits[0].objective, abs=1e-9)
        for name in ("r", "alpha", "a", "b"):
            assert getattr(fit.params, name) == pytest.approx(getattr(fits[0].params, name), rel=1e-3)
        np.testing.assert_allclose(
            clv.probability_alive(fit.params, x, t_x, T), clv.probability_alive(fits[0].params, x, t_x, T), atol=1e-5
        )
    assert all(fit.converged and not clv.bgnbd_problems(fit, x, t_x, T) for fit in fits)


# --- when the fit must not be used, and the rule that replaces it ------------------------------


def test_customers_who_never_drop_out_collapse_the_fit_and_it_is_refused():
    """The demo data's shape (a Poisson shopper who never leaves): a → 0, P(alive) = 1 for all."""
    never = summarise(generate_customers(1500, seed=11, dropout=False))
    x, t_x, T = never["x"], never["t_x"], never["T"]
    fit = clv.fit_bgnbd(x, t_x, T)
    problems = clv.bgnbd_problems(fit, x, t_x, T)
    assert any(problem.startswith("a collapsed to") for problem in problems), problems


def _fit(params: clv.BGNBDParams, *, converged=True, at_bound=(), time_scale=1095.0) -> clv.BGNBDFit:
    return clv.BGNBDFit(
        params=params,
        penalizer_coef=0.001,
        log_likelihood=-1.0,
        objective=1.0,
        converged=converged,
        message="ABNORMAL_TERMINATION_IN_LNSRCH" if not converged else "CONVERGENCE",
        at_bound=at_bound,
        time_scale=time_scale,
    )


def test_each_sign_of_a_degenerate_fit_is_named():
    sound = clv.BGNBDParams(r=0.8, alpha=40.0, a=0.6, b=3.0)
    x, t_x, T = [1, 5], [30, 200], [400, 210]
    assert clv.bgnbd_problems(_fit(sound), x, t_x, T) == []
    assert clv.bgnbd_problems(_fit(sound, converged=False), x, t_x, T) == [
        "the optimiser did not converge (ABNORMAL_TERMINATION_IN_LNSRCH)"
    ]
    collapsed = clv.BGNBDParams(r=0.8, alpha=40.0, a=6.1e-6, b=0.06)
    assert clv.bgnbd_problems(_fit(collapsed, at_bound=("a",)), x, t_x, T) == [
        "a collapsed to 6.1e-06 (a bound of the search)"
    ]
    ridge = clv.BGNBDParams(r=0.28, alpha=7.6, a=527.5, b=3907.4)
    assert clv.bgnbd_problems(_fit(ridge), x, t_x, T) == ["b ran away to 3.91e+03"]


def test_a_fit_that_keeps_the_long_lapsed_alive_is_refused():
    # Six customers who bought monthly (4–12 times) and then nothing for two years: 24+ of their gaps.
    x = np.array([4, 6, 8, 10, 12, 12, 3])
    t_x = 30.0 * x
    T = t_x + 730
    t_x[-1], T[-1] = 90.0, 100.0  # and one who is active: not among the long-lapsed
    hardly_any_dropout = clv.BGNBDParams(r=0.8, alpha=40.0, a=0.0011, b=1000.0)  # within every bound
    problems = clv.bgnbd_problems(_fit(hardly_any_dropout), x, t_x, T)
    assert len(problems) == 1, problems
    assert problems[0].startswith("P(alive) is implausible: 0.8") and "for the 6 customers silent" in problems[0]
    assert clv.bgnbd_problems(_fit(clv.BGNBDParams(r=0.8, alpha=40.0, a=0.6, b=3.0)), x, t_x, T) == []


def test_the_recency_rule_measures_silence_against_the_members_own_pace():
    # Repeat buyers: (1 + k/x)^−x with k = silence / own mean gap.
    rule = clv.recency_rule(
        x=[2, 11, 20, 0, 0],
        t_x=[60, 330, 600, 0, 0],
        T=[90, 1330, 603, 1073, 10],
        horizon=365,
    )
    assert rule.typical_gap == 30.0  # the median of 30, 30, 30
    expected_alive = [
        (1 + 1 / 2) ** -2,  # silent for one 30-day gap after two: 0.44
        (1 + (1000 / 30) / 11) ** -11,  # a monthly buyer silent for 1,000 days: ≈ 0
        (1 + (3 / 30) / 20) ** -20,  # bought every month for 20 months, 3 days ago: 0.905
        1 / (1 + 1073 / 30),  # one purchase 1,073 days ago, against the typical 30-day gap: 0.027
        1 / (1 + 10 / 30),  # one purchase 10 days ago: 0.75
    ]
    np.testing.assert_allclose(rule.p_alive, expected_alive, rtol=1e-12)
    churn = 1 - rule.p_alive
    assert churn[1] > 0.99 and churn[3] > 0.95  # the lapsed
    assert churn[2] < 0.1  # the active regular
    np.testing.assert_allclose(rule.expected_purchases, rule.p_alive * 365 / np.array([30, 30, 30, 30, 30]))


def test_the_recency_rule_without_any_repeat_buyer_has_no_figure_for_one_time_buyers():
    rule = clv.recency_rule(x=[0, 0], t_x=[0, 0], T=[5, 500], horizon=365)
    assert np.isnan(rule.typical_gap) and np.isnan(rule.p_alive).all()


def test_on_generated_customers_the_rule_also_tells_the_living_from_the_lapsed(generated):
    x, t_x, T, alive = generated["x"], generated["t_x"], generated["T"], generated["alive"]
    rule = clv.recency_rule(x, t_x, T, horizon=365)
    repeat = x > 0
    assert auc(rule.p_alive[repeat], alive[repeat]) > 0.8


def test_a_gamma_gamma_fit_with_an_infinite_mean_is_refused():
    # Spend so heavy-tailed that q ≤ 1: every CLV would be infinite.
    rng = np.random.default_rng(5)
    x = rng.integers(1, 6, size=300).astype(float)
    m = np.exp(rng.normal(3, 3, size=300))
    with pytest.raises(clv.FitError, match="Gamma-Gamma fit degenerated"):
        clv.fit_gamma_gamma(x, m)
