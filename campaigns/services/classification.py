"""Customer classification (客户分层), RFM scores, churn risk and CLV — set-based, in batches.

Definitions (docs/rules/campaigns.md, "Classification"), all as of a date D, with the
settings of `ClassificationPolicy` (defaults: share 20%, window 12 months, lapsed after 730 days):

- A purchase counts for what was paid less what was refunded; a fully refunded purchase does not
  count at all. Purchases after the end of D are ignored, so a past D gives that day's answer.
- The window is the `window_months` months ending on D: the local days after D − window_months
  up to and including D. `spend_12m` and `purchases_12m` are over the window.
- `lapsed`: the last purchase is more than `lapsed_after_days` days before D. This comes first:
  a lapsed member is never high-value, potential or ordinary.
- `high_value`: bought in the window, not lapsed, and in the top `high_value_share`% of those
  members by window spend. Ties at the boundary are all high-value: a member is high-value when
  fewer than share × N members spent strictly more (N = members who bought in the window and are
  not lapsed), so the class may be slightly larger than the share, never smaller.
- `potential`: bought in the window, not lapsed, below the top share.
- `ordinary`: bought before the window but not in it, and not lapsed.
- `no_purchases`: never bought (as of D).
- RFM scores among members who ever bought: each of recency (days since the last purchase, fewer
  is better), frequency (purchases in the window) and monetary (spend in the window) gets
  1 + ⌊5 × (rank − 1) / n⌋, ranking from worst to best, so 5 is the best fifth; tied values share
  the score of the first of them. The RFM score is R + F + M (3–15).
- Churn risk and CLV: `campaigns.clv` (BG/NBD + Gamma-Gamma) fitted on this run's data in days
  (purchase days as transactions, in the project's time zone): churn risk = 1 − P(alive),
  CLV = expected purchases over the CLV horizon × expected purchase value, undiscounted. When
  the BG/NBD fit is degenerate or did not converge, and always for one-time buyers, P(alive)
  comes from the recency rule instead (`clv.recency_rule`: days since the last purchase against
  the member's own mean gap between purchases); the run records which (`_fit_and_predict`).

One code path for PostgreSQL and SQLite: the same statements (campaigns/_sql.py: window
functions, INSERT … ON CONFLICT DO UPDATE) with two small dialect differences (local day, day difference); money is
rounded to cents in SQL so both give identical numbers (tests/campaigns/test_classification.py).
"""

from __future__ import annotations

import calendar
import datetime
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from campaigns import _sql, clv
from campaigns.models import Classification, ClassificationPolicy, ClassificationRun, MemberScore

BATCH_SIZE = 100_000
# The CLV model is fitted on at most this many customers (an even sample by member id); the
# predictions cover everyone.
FIT_SAMPLE = 20_000
# `ClassificationRun.model["method"]`: what produced the churn risk and expected purchases.
METHOD_BGNBD = "bgnbd"
METHOD_RULE = "rule"

Progress = Callable[[str, int, int], None]


@dataclass
class ClassificationResult:
    as_of: datetime.date
    members: int
    counts: dict[str, int]
    model: dict = field(default_factory=dict)
    seconds: float = 0.0
    run_id: int | None = None


def add_months(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _start_of(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def classify_members(
    *,
    as_of: datetime.date | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> ClassificationResult:
    """Recompute every member's `MemberScore` as of `as_of` (default: today) and record the run.

    Reads `members`' purchases only; writes only `campaigns` tables. Safe to run again or after a
    crash: each batch upserts its members' rows whole, and a rerun rewrites them all.
    """
    started = timezone.now()
    clock = time.monotonic()
    as_of = as_of or timezone.localdate()
    policy = ClassificationPolicy.current()
    report = progress or (lambda step, done, total: None)
    dialect = _sql.Dialect(_start_of(as_of))
    params = {
        "as_of": as_of.isoformat(),
        "end": connection.ops.adapt_datetimefield_value(_start_of(as_of + datetime.timedelta(days=1))),
        "window_start": connection.ops.adapt_datetimefield_value(
            _start_of(add_months(as_of, -policy.window_months) + datetime.timedelta(days=1))
        ),
        "lapsed": policy.lapsed_after_days,
        "share": policy.high_value_share,
    }

    with connection.cursor() as cursor:
        _sql.drop_temp_tables(cursor)
        _sql.raise_work_mem(cursor, dialect)
        report("aggregate", 0, 1)
        # 1–2. Per member, from the purchase days (what was paid net per local day): window
        # figures, recency and the BG/NBD inputs in days (x = purchase days after the first,
        # t_x = first to last, T = first to D; repeat_net = what the days after the first paid).
        _sql.aggregate_purchases(cursor, dialect, params)
        report("aggregate", 1, 1)

        # 3. The CLV model, fitted and applied in numpy.
        report("model", 0, 1)
        model = _fit_and_predict(cursor, dialect, as_of=as_of, horizon_months=policy.clv_horizon_months)
        report("model", 1, 1)

        # 4. Classes and RFM quintiles with window functions over everyone who ever bought.
        report("rank", 0, 1)
        _sql.rank_members(cursor, dialect, params)
        report("rank", 1, 1)

        # 5. Upsert every member's row, a range of member ids per transaction.
        low, high, members = _sql.member_id_range(cursor)
        upsert = _sql.upsert_scores_statement(dialect)
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        if members:
            batches = math.ceil((high - low + 1) / batch_size)
            for number in range(batches):
                lo = low + number * batch_size
                with transaction.atomic():
                    cursor.execute(upsert, {**params, "now": now, "lo": lo, "hi": lo + batch_size})
                report("save", number + 1, batches)
        _sql.drop_temp_tables(cursor)
        _sql.reset_work_mem(cursor, dialect)

    counts = dict.fromkeys(Classification.values, 0)
    for row in MemberScore.objects.values("classification").annotate(n=Count("id")).order_by():
        counts[row["classification"]] = row["n"]
    run = ClassificationRun.objects.create(
        as_of=as_of,
        started_at=started,
        finished_at=timezone.now(),
        members=members or 0,
        counts=counts,
        settings={
            "high_value_share": policy.high_value_share,
            "window_months": policy.window_months,
            "lapsed_after_days": policy.lapsed_after_days,
            "clv_horizon_months": policy.clv_horizon_months,
        },
        model=model,
    )
    return ClassificationResult(
        as_of=as_of,
        members=members or 0,
        counts=counts,
        model=model,
        seconds=round(time.monotonic() - clock, 2),
        run_id=run.pk,
    )


def _fit_and_predict(cursor, dialect: _sql.Dialect, *, as_of: datetime.date, horizon_months: int) -> dict:
    """Churn risk and CLV of every member who bought, into the temp table `cls_pred`; returns what
    produced them (`ClassificationRun.model`).

    BG/NBD + Gamma-Gamma are fitted on (an even sample of) the buyers, BG/NBD with lifetimes' L2
    penalty (`clv.DEFAULT_PENALIZER`). When the BG/NBD fit cannot be had or must not be used
    (`clv.bgnbd_problems`: not converged, a parameter on a bound, collapsed or run away,
    implausible P(alive) for the long-lapsed), P(alive) and expected purchases come from the
    recency rule (`clv.recency_rule`) instead: `method` is "rule" and `reason` says why. One-time
    buyers always get the rule's P(alive): BG/NBD holds them certainly active by assumption.
    CLV = expected purchases × Gamma-Gamma's expected purchase value; empty when Gamma-Gamma
    cannot be fitted (`gamma_gamma_reason`).
    """
    _sql.create_predictions_table(cursor)
    data = _sql.read_inputs(cursor, dialect)
    if not len(data):
        return {"fitted": False, "reason": "no purchases", "problems": [{"code": "no_purchases", "params": {}}]}
    ids, x, t_x, T, repeat_net = (data[:, i] for i in range(5))
    m = np.divide(repeat_net, x, out=np.zeros_like(x), where=x > 0)
    step = max(1, math.ceil(len(ids) / FIT_SAMPLE))
    sample = slice(None, None, step)
    horizon = (add_months(as_of, horizon_months) - as_of).days
    rule = clv.recency_rule(x, t_x, T, horizon=horizon)
    model: dict = {
        "customers": len(ids),
        "fitted_on": len(ids[sample]),
        "time_unit": "day",
        "horizon_days": horizon,
        "penalizer_coef": clv.DEFAULT_PENALIZER,
        "typical_gap_days": None if math.isnan(rule.typical_gap) else round(rule.typical_gap, 2),
    }
    fit = None
    try:
        fit = clv.fit_bgnbd(x[sample], t_x[sample], T[sample], penalizer_coef=clv.DEFAULT_PENALIZER)
    except clv.FitError as error:
        problems = [error.problem]
    else:
        problems = clv.bgnbd_problems(fit, x, t_x, T)
    try:
        gamma_gamma = clv.fit_gamma_gamma(x[sample], m[sample])
    except clv.FitError as error:
        gamma_gamma = None
        model["gamma_gamma_reason"] = str(error)
        model["gamma_gamma_problem"] = error.problem.as_dict()
    model["gamma_gamma"] = gamma_gamma.as_dict() if gamma_gamma else None

    if fit is not None and not problems:
        predictions = clv.predict(fit.params, gamma_gamma, horizon=horizon, x=x, t_x=t_x, T=T, m=m)
        p_alive = np.where(x > 0, predictions.p_alive, rule.p_alive)
        expected = predictions.expected_purchases
        model.update(fitted=True, method=METHOD_BGNBD, bgnbd=fit.as_dict())
    else:
        p_alive, expected = rule.p_alive, rule.expected_purchases
        model.update(
            fitted=False,
            method=METHOD_RULE,
            reason="; ".join(problems),  # in English, for logs; screens render `problems`
            problems=[problem.as_dict() for problem in problems],
        )
        if fit is not None:
            model["rejected_bgnbd"] = fit.as_dict()
    if gamma_gamma is not None:
        value = expected * clv.expected_average_value(gamma_gamma, x, m)
    else:
        value = np.full_like(x, np.nan)
    # NaN (no figure: e.g. no repeat buyer to give a typical gap) is stored as NULL.
    columns = [np.round(p_alive, 6), np.round(expected, 4), np.round(value, 2)]
    _sql.write_predictions(cursor, dialect, [ids, *columns])
    if dialect.postgres and any(np.isnan(column).any() for column in columns):
        _sql.null_nan_predictions(cursor)
    return model
