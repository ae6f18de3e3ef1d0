"""Customer lifetime value and churn risk: BG/NBD (Fader, Hardie & Lee 2005) and Gamma-Gamma
(Fader, Hardie & Lee 2005, "RFM and CLV"), fitted by maximum likelihood.

Pure arithmetic over numpy arrays, without the ORM (`campaigns.classification` feeds it), so it
is tested on its own against the `lifetimes` library on the CDNOW data set
(tests/campaigns/test_clv.py). Inputs per customer, in one time unit (the classification uses
days): `x` repeat purchases (purchase days after the first), `t_x` time from the first to the
last purchase, `T` time from the first purchase to the as-of date, and `m` the mean value of the
repeat purchases.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1

# Fewer repeat customers than this and the fit says nothing worth storing.
MIN_CUSTOMERS = 20
MIN_REPEAT_CUSTOMERS = 10


class FitError(ValueError):
    """The data cannot support a fit (too few customers, or the optimiser did not converge)."""


@dataclass(frozen=True)
class BGNBDParams:
    r: float
    alpha: float
    a: float
    b: float

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    v: float

    def as_dict(self) -> dict:
        return asdict(self)


def _unique_weights(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Identical customers contribute identical likelihood terms: evaluate each once, weighted."""
    stacked = np.column_stack(columns)
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    return [unique[:, i] for i in range(unique.shape[1])], counts.astype(float)


def bgnbd_log_likelihood(params: BGNBDParams, x, t_x, T) -> np.ndarray:
    """Each customer's log-likelihood under BG/NBD (the paper's equation 6, in logs)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    a4 = np.full_like(x, -np.inf)
    a4[repeat] = np.log(a) - np.log(b + x[repeat] - 1) - (r + x[repeat]) * np.log(alpha + t_x[repeat])
    return a1 + a2 + np.logaddexp(a3, a4)


def fit_bgnbd(x, t_x, T) -> BGNBDParams:
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    if len(x) < MIN_CUSTOMERS or np.count_nonzero(x) < MIN_REPEAT_CUSTOMERS:
        raise FitError(f"BG/NBD needs at least {MIN_CUSTOMERS} customers, {MIN_REPEAT_CUSTOMERS} of them repeat")
    (ux, ut, uT), weights = _unique_weights(x, t_x, T)
    scale = max(float(np.max(uT)), 1.0)  # fit in units of the longest history: better conditioned

    def objective(log_params):
        r, alpha, a, b = np.exp(log_params)
        ll = bgnbd_log_likelihood(BGNBDParams(r, alpha, a, b), ux, ut / scale, uT / scale)
        return -np.sum(weights * ll) / weights.sum()

    result = _minimise(objective, np.log([1.0, 1.0, 1.0, 1.0]))
    r, alpha, a, b = np.exp(result)
    return BGNBDParams(r=float(r), alpha=float(alpha * scale), a=float(a), b=float(b))


def gamma_gamma_log_likelihood(params: GammaGammaParams, x, m) -> np.ndarray:
    p, q, v = params.p, params.q, params.v
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    return (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(v)
        + (p * x - 1) * np.log(m)
        + (p * x) * np.log(x)
        - (p * x + q) * np.log(x * m + v)
    )


def fit_gamma_gamma(x, m) -> GammaGammaParams:
    """Fitted on repeat customers only (x > 0, m > 0), as the model requires."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    keep = (x > 0) & (m > 0)
    x, m = x[keep], m[keep]
    if len(x) < MIN_REPEAT_CUSTOMERS:
        raise FitError(f"Gamma-Gamma needs at least {MIN_REPEAT_CUSTOMERS} repeat customers")
    (ux, um), weights = _unique_weights(x, m)
    scale = float(np.mean(m))  # money in units of the mean purchase: better conditioned

    def objective(log_params):
        p, q, v = np.exp(log_params)
        ll = gamma_gamma_log_likelihood(GammaGammaParams(p, q, v), ux, um / scale)
        return -np.sum(weights * ll) / weights.sum()

    result = _minimise(objective, np.log([1.0, 2.0, 1.0]))
    p, q, v = np.exp(result)
    return GammaGammaParams(p=float(p), q=float(q), v=float(v * scale))


def _minimise(objective, start: np.ndarray) -> np.ndarray:
    """Bounded L-BFGS-B on the log-parameters, polished by a second start at the first answer.

    The bounds (e^±12 in the scaled units) keep data that the model does not describe well (no
    dropout at all, say) from sending a parameter to infinity and the optimiser on a long walk;
    the run then ends at the bound in a bounded number of steps. Deterministic: the same data
    gives the same parameters on every database.
    """
    bounds = [(-12.0, 12.0)] * len(start)
    options = {"maxiter": 1000, "maxfun": 5000, "ftol": 1e-11, "gtol": 1e-7}
    with np.errstate(all="ignore"):
        first = minimize(objective, start, method="L-BFGS-B", bounds=bounds, options=options)
        second = minimize(objective, first.x, method="L-BFGS-B", bounds=bounds, options=options)
    if not np.all(np.isfinite(second.x)) or not np.isfinite(second.fun):
        raise FitError("the likelihood could not be maximised")
    return second.x


def probability_alive(params: BGNBDParams, x, t_x, T) -> np.ndarray:
    """P(the customer is still active | x, t_x, T); 1 for customers without repeat purchases."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = np.where(x > 0, a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0)
    return 1.0 / (1.0 + odds)


def expected_purchases(params: BGNBDParams, t: float, x, t_x, T) -> np.ndarray:
    """E[purchases in the next `t` | x, t_x, T] (the paper's equation 10)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    z = t / (alpha + T + t)
    with np.errstate(all="ignore"):
        head = (a + b + x - 1) / (a - 1)
        tail = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
        odds = np.where(x > 0, a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0)
        result = head * tail / (1 + odds)
    return np.where(np.isfinite(result), np.maximum(result, 0.0), 0.0)


def expected_average_value(params: GammaGammaParams, x, m) -> np.ndarray:
    """E[mean purchase value | x, m]: shrinks a customer's own mean towards the population's."""
    p, q, v = params.p, params.q, params.v
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    population_mean = v * p / (q - 1) if q > 1 else np.nan
    weight = (p * x) / (p * x + q - 1)
    return np.where(x > 0, (1 - weight) * population_mean + weight * m, population_mean)


@dataclass
class Predictions:
    p_alive: np.ndarray
    expected_purchases: np.ndarray
    clv: np.ndarray


def predict(bgnbd: BGNBDParams, gamma_gamma: GammaGammaParams, *, horizon: float, x, t_x, T, m) -> Predictions:
    """Churn risk is 1 − P(alive); CLV is expected purchases over `horizon` × expected value
    (undiscounted)."""
    purchases = expected_purchases(bgnbd, horizon, x, t_x, T)
    value = expected_average_value(gamma_gamma, x, m)
    return Predictions(
        p_alive=probability_alive(bgnbd, x, t_x, T),
        expected_purchases=purchases,
        clv=purchases * value,
    )
