"""Customer lifetime value and churn risk: BG/NBD (Fader, Hardie & Lee 2005) and Gamma-Gamma
(Fader, Hardie & Lee 2005, "RFM and CLV"), fitted by maximum likelihood.

Pure arithmetic over numpy arrays, without the ORM (`campaigns.services.classification` feeds it), so it
is tested on its own against the `lifetimes` library on the CDNOW data set and on generated
BG/NBD customers (tests/campaigns/test_clv.py).

The BG/NBD fit carries lifetimes' L2 penalty (`DEFAULT_PENALIZER`), which makes its optimum
unique; `bgnbd_problems` says when a fit still must not be used (not converged, a parameter on
a bound, collapsed or run away, implausible P(alive) for the long-lapsed), and `recency_rule`
is the documented fallback then. Inputs per customer, in one time unit (the classification uses
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
# The L2 penalty on the BG/NBD parameters (lifetimes' `penalizer_coef`, same scale: parameters with
# time in units of the longest history). 0.001 removes the flat ridge of data with little visible
# dropout (a and b in the thousands, anywhere along it) for a fraction of a percent of the
# log-likelihood: on the paper's CDNOW data 0.03% (r and α move by 0.2%; a and b, which that data
# pins down poorly, slide along their ridge from 0.79/2.43 to 0.50/1.32).
DEFAULT_PENALIZER = 0.001
# The optimiser searches e^−12 … e^12 for each (scaled) parameter.
LOG_BOUND = 12.0
# `bgnbd_problems`: a fit outside these (scaled parameters) or with implausible P(alive) is refused.
COLLAPSED = 1e-3
RUNAWAY = 1e3
LONG_LAPSED_GAPS = 10
LONG_LAPSED_MIN_REPEATS = 3
LONG_LAPSED_MIN_CUSTOMERS = 5


class Problem(str):
    """Why a fit cannot be used: the English sentence (the str itself, as logs and tests read it)
    with a `code` and its `params`, so that a screen can say it in the reader's language
    (`campaigns.model_reasons`). Parameters are kept as the sentence formats them."""

    code: str
    params: dict[str, str]

    def __new__(cls, code: str, text: str, **params: str) -> Problem:
        problem = super().__new__(cls, text)
        problem.code = code
        problem.params = params
        return problem

    def as_dict(self) -> dict:
        return {"code": self.code, "params": self.params}


class FitError(ValueError):
    """The data cannot support a fit (too few customers, or the optimiser did not converge);
    `problem` says why, with its code."""

    def __init__(self, problem: Problem):
        super().__init__(problem)
        self.problem = problem


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


@dataclass(frozen=True)
class BGNBDFit:
    """A BG/NBD fit and what is needed to judge it (`bgnbd_problems`)."""

    params: BGNBDParams
    penalizer_coef: float
    log_likelihood: float  # the data's log-likelihood at `params`, summed over customers, without the penalty
    objective: float  # what was minimised: −mean log-likelihood + penalty (lifetimes' `_negative_log_likelihood_`)
    converged: bool
    message: str
    at_bound: tuple[str, ...]  # parameters that ended on a bound of the search
    time_scale: float  # the longest history (max T): the unit in which the penalty sees time

    def as_dict(self) -> dict:
        return {
            **self.params.as_dict(),
            "penalizer_coef": self.penalizer_coef,
            "log_likelihood": self.log_likelihood,
            "objective": self.objective,
        }


def bgnbd_objective(params: BGNBDParams, x, t_x, T, *, penalizer_coef: float, weights=None) -> float:
    """−(mean log-likelihood) + penalizer_coef × (r² + α² + a² + b²), the parameters taken with time
    in units of the longest history (max T): exactly `lifetimes.BetaGeoFitter`'s objective, so a
    fit can be compared with the library's at the same penalizer."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    weights = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    scale = max(float(np.max(T)), 1.0)
    scaled = BGNBDParams(r=params.r, alpha=params.alpha / scale, a=params.a, b=params.b)
    ll = bgnbd_log_likelihood(scaled, x, t_x / scale, T / scale)
    penalty = penalizer_coef * (scaled.r**2 + scaled.alpha**2 + scaled.a**2 + scaled.b**2)
    return float(-np.sum(weights * ll) / weights.sum() + penalty)


def fit_bgnbd(
    x, t_x, T, *, penalizer_coef: float = DEFAULT_PENALIZER, initial_params: BGNBDParams | None = None
) -> BGNBDFit:
    """Maximum likelihood with lifetimes' L2 penalty (`bgnbd_objective`).

    Without the penalty the likelihood of data with little visible dropout has a flat ridge
    (a and b growing together, their ratio fixed): the optimiser stops anywhere along it, at a
    different place on another CPU, with the same predictions only by luck. The penalty makes
    the optimum unique, so every start and every machine reaches the same parameters.
    `initial_params` (default r = α' = a = b = 1, α' in longest histories) is where the search starts.
    """
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    if len(x) < MIN_CUSTOMERS or np.count_nonzero(x) < MIN_REPEAT_CUSTOMERS:
        raise FitError(
            Problem(
                "bgnbd_too_few",
                f"BG/NBD needs at least {MIN_CUSTOMERS} customers, {MIN_REPEAT_CUSTOMERS} of them repeat",
                customers=str(MIN_CUSTOMERS),
                repeat=str(MIN_REPEAT_CUSTOMERS),
            )
        )
    (ux, ut, uT), weights = _unique_weights(x, t_x, T)
    scale = max(float(np.max(uT)), 1.0)  # fit in units of the longest history: better conditioned

    def objective(log_params):
        params = np.exp(log_params)
        ll = bgnbd_log_likelihood(BGNBDParams(*params), ux, ut / scale, uT / scale)
        return -np.sum(weights * ll) / weights.sum() + penalizer_coef * np.sum(params**2)

    start = [1.0, 1.0, 1.0, 1.0]
    if initial_params is not None:
        start = [initial_params.r, initial_params.alpha / scale, initial_params.a, initial_params.b]
    found = _minimise(objective, np.log(start))
    r, alpha, a, b = np.exp(found.x)
    params = BGNBDParams(r=float(r), alpha=float(alpha * scale), a=float(a), b=float(b))
    with np.errstate(all="ignore"):
        log_likelihood = float(np.sum(weights * bgnbd_log_likelihood(params, ux, ut, uT)))
    return BGNBDFit(
        params=params,
        penalizer_coef=penalizer_coef,
        log_likelihood=log_likelihood,
        objective=float(found.fun),
        converged=found.converged,
        message=found.message,
        at_bound=tuple(name for name, hit in zip(("r", "alpha", "a", "b"), found.at_bound, strict=True) if hit),
        time_scale=scale,
    )


def bgnbd_problems(fit: BGNBDFit, x, t_x, T) -> list[Problem]:
    """Why the fit must not be used (an empty list: it may). A fit is refused when

    1. the optimiser did not report convergence;
    2. a parameter collapsed below COLLAPSED or ran away above RUNAWAY, in the scaled units (time
       in longest histories), which includes ending on a bound of the search (e^±12). a → 0 means
       nobody ever drops out, which no shop sees; a and b in the thousands is the flat ridge of an
       unpenalised fit;
    3. its P(alive) is implausible for the long-lapsed: among customers with at least
       LONG_LAPSED_MIN_REPEATS repeat purchases who have been silent for more than LONG_LAPSED_GAPS
       of their own mean gaps (at least LONG_LAPSED_MIN_CUSTOMERS of them), the median P(alive)
       is above one half.
    """
    problems = []
    if not fit.converged:
        problems.append(
            Problem("not_converged", f"the optimiser did not converge ({fit.message})", message=fit.message)
        )
    scaled = {"r": fit.params.r, "alpha": fit.params.alpha / fit.time_scale, "a": fit.params.a, "b": fit.params.b}
    for name, value in scaled.items():
        at_bound = name in fit.at_bound
        bound = " (a bound of the search)" if at_bound else ""
        if value < COLLAPSED:
            shown = f"{value:.2g}"
            problems.append(
                Problem(
                    "collapsed" + ("_at_bound" if at_bound else ""),
                    f"{name} collapsed to {shown}{bound}",
                    name=name,
                    value=shown,
                )
            )
        elif value > RUNAWAY:
            shown = f"{value:.3g}"
            problems.append(
                Problem(
                    "ran_away" + ("_at_bound" if at_bound else ""),
                    f"{name} ran away to {shown}{bound}",
                    name=name,
                    value=shown,
                )
            )
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    with np.errstate(all="ignore"):
        gap = np.where(x > 0, t_x / np.maximum(x, 1), np.inf)
        lapsed = (x >= LONG_LAPSED_MIN_REPEATS) & (T - t_x > LONG_LAPSED_GAPS * gap)
    if np.count_nonzero(lapsed) >= LONG_LAPSED_MIN_CUSTOMERS:
        alive = float(np.median(probability_alive(fit.params, x[lapsed], t_x[lapsed], T[lapsed])))
        if not alive <= 0.5:
            shown, count = f"{alive:.2f}", str(np.count_nonzero(lapsed))
            problems.append(
                Problem(
                    "implausible_alive",
                    f"P(alive) is implausible: {shown} (median) for the {count} customers "
                    f"silent for more than {LONG_LAPSED_GAPS} of their own purchase gaps",
                    alive=shown,
                    count=count,
                    gaps=str(LONG_LAPSED_GAPS),
                )
            )
    return problems


@dataclass
class RuleEstimates:
    p_alive: np.ndarray
    expected_purchases: np.ndarray
    typical_gap: float  # the population's median gap between purchases (nan: no repeat customer)


def recency_rule(x, t_x, T, *, horizon: float) -> RuleEstimates:
    """The fallback when no BG/NBD fit can be trusted (and, always, for one-time buyers, whom
    BG/NBD by its own assumption holds certainly active): recency measured against the
    customer's own pace.

    - gap g: the customer's mean gap between purchase days, t_x / x; for a one-time buyer the
      population's typical gap (the median g of the repeat customers), counted as one gap (x = 1).
    - silence s: time since the last purchase, T − t_x (T for a one-time buyer); k = s / g.
    - P(alive) = (1 + k / x)^−x: the chance that a customer still buying at the pace their history
      shows (a Poisson rate with the uncertainty of x observed gaps, i.e. a Gamma(x, t_x) posterior)
      would have stayed silent this long. It tends to e^−k for long histories; a monthly buyer
      silent for 1,000 days gets ≈ 0, one who bought last week ≈ 0.8–1. Churn risk is 1 − P(alive).
    - expected purchases over the horizon: P(alive) × horizon / g.
    """
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    repeat = x > 0
    with np.errstate(all="ignore"):
        own_gap = np.where(repeat, t_x / np.maximum(x, 1), np.nan)
        typical = float(np.median(own_gap[repeat])) if np.any(repeat) else float("nan")
        gap = np.where(repeat, own_gap, typical)
        silence = np.where(repeat, T - t_x, T)
        gaps = np.where(repeat, x, 1.0)
        k = np.where(silence > 0, silence / gap, 0.0)
        p_alive = (1 + k / gaps) ** -gaps
        expected = p_alive * horizon / gap
    return RuleEstimates(p_alive=p_alive, expected_purchases=expected, typical_gap=typical)


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
        raise FitError(
            Problem(
                "gamma_gamma_too_few",
                f"Gamma-Gamma needs at least {MIN_REPEAT_CUSTOMERS} repeat customers",
                repeat=str(MIN_REPEAT_CUSTOMERS),
            )
        )
    (ux, um), weights = _unique_weights(x, m)
    scale = float(np.mean(m))  # money in units of the mean purchase: better conditioned

    def objective(log_params):
        p, q, v = np.exp(log_params)
        ll = gamma_gamma_log_likelihood(GammaGammaParams(p, q, v), ux, um / scale)
        return -np.sum(weights * ll) / weights.sum()

    found = _minimise(objective, np.log([1.0, 2.0, 1.0]))
    p, q, v = np.exp(found.x)
    if not found.converged or any(found.at_bound) or q <= 1:
        # q ≤ 1: the population's mean spend is infinite, and so would every CLV be.
        shown = {"p": f"{p:.3g}", "q": f"{q:.3g}", "v": f"{v * scale:.3g}"}
        raise FitError(
            Problem(
                "gamma_gamma_degenerate",
                f"the Gamma-Gamma fit degenerated (p={shown['p']}, q={shown['q']}, v={shown['v']})",
                **shown,
            )
        )
    return GammaGammaParams(p=float(p), q=float(q), v=float(v * scale))


@dataclass(frozen=True)
class _Minimum:
    x: np.ndarray
    fun: float
    converged: bool
    message: str
    at_bound: tuple[bool, ...]


def _minimise(objective, start: np.ndarray) -> _Minimum:
    """Bounded L-BFGS-B on the log-parameters, polished by a second start at the first answer.

    The bounds (e^±12 in the scaled units) keep data that the model does not describe well (no
    dropout at all, say) from sending a parameter to infinity and the optimiser on a long walk;
    the run then ends at the bound in a bounded number of steps, and the caller is told
    (`at_bound`) so that it does not use such a fit as if it meant something.
    """
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(start)
    # Tight enough that fits from far-apart starts agree in P(alive) to about 6e-6 (the gradient is
    # numerical; at ftol 1e-11 / gtol 1e-7 they differed by up to 1.04e-5 on this 2-CPU machine).
    options = {"maxiter": 1000, "maxfun": 5000, "ftol": 1e-13, "gtol": 1e-9}
    with np.errstate(all="ignore"):
        first = minimize(objective, start, method="L-BFGS-B", bounds=bounds, options=options)
        second = minimize(objective, first.x, method="L-BFGS-B", bounds=bounds, options=options)
    if not np.all(np.isfinite(second.x)) or not np.isfinite(second.fun):
        raise FitError(Problem("not_maximised", "the likelihood could not be maximised"))
    return _Minimum(
        x=second.x,
        fun=float(second.fun),
        converged=bool(second.success),
        message=str(second.message),
        at_bound=tuple(bool(abs(abs(v) - LOG_BOUND) < 1e-3) for v in second.x),
    )


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


def predict(bgnbd: BGNBDParams, gamma_gamma: GammaGammaParams | None, *, horizon: float, x, t_x, T, m) -> Predictions:
    """Churn risk is 1 − P(alive); CLV is expected purchases over `horizon` × expected value
    (undiscounted; NaN without a Gamma-Gamma fit)."""
    purchases = expected_purchases(bgnbd, horizon, x, t_x, T)
    if gamma_gamma is None:
        value = np.full_like(np.asarray(x, dtype=float), np.nan)
    else:
        value = expected_average_value(gamma_gamma, x, m)
    return Predictions(
        p_alive=probability_alive(bgnbd, x, t_x, T),
        expected_purchases=purchases,
        clv=purchases * value,
    )
