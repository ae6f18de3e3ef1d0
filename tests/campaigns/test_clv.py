"""The CLV model against the `lifetimes` library on real data: the CDNOW sample (2,357 customers
of an online CD shop, 1997–98, weekly), which `lifetimes` ships. Fader, Hardie & Lee (2005) report
r = 0.243, α = 4.414, a = 0.793, b = 2.426 for it; Gamma-Gamma p = 6.25, q = 3.74, v = 15.44."""

import numpy as np
import pytest

from campaigns import clv

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
    return clv.fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"]), clv.fit_gamma_gamma(cdnow["x"], cdnow["m"])


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
