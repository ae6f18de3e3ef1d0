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

One code path for PostgreSQL and SQLite: the same statements (window functions, INSERT … ON
CONFLICT DO UPDATE) with two small dialect differences (local day, day difference); money is
rounded to cents in SQL so both give identical numbers (tests/campaigns/test_classification.py).
"""

# ruff: noqa: S608 -- only table names from the models' _meta and fixed SQL fragments are
# interpolated; every value is a parameter.
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

from campaigns import clv
from campaigns.models import Classification, ClassificationPolicy, ClassificationRun, MemberScore
from members.models import Member, Purchase

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


class _Dialect:
    """The two places where PostgreSQL and SQLite spell things differently."""

    def __init__(self, as_of: datetime.date):
        self.postgres = connection.vendor == "postgresql"
        tz = timezone.get_current_timezone()
        self.tz_name = str(tz)
        offset = _start_of(as_of).utcoffset() or datetime.timedelta(0)
        self.offset_minutes = int(offset.total_seconds() // 60)

    def local_day(self, column: str) -> str:
        if self.postgres:
            return f"CAST(({column} AT TIME ZONE '{self.tz_name}') AS DATE)"
        # Stored as UTC text; the zone's offset on the as-of date (exact for zones without DST,
        # like Asia/Shanghai).
        return f"DATE({column}, '{self.offset_minutes:+d} minutes')"

    def days_between(self, later: str, earlier: str) -> str:
        if self.postgres:
            return f"({later} - {earlier})"
        return f"CAST(ROUND(JULIANDAY({later}) - JULIANDAY({earlier})) AS INTEGER)"

    def date_param(self, name: str) -> str:
        return f"CAST(%({name})s AS DATE)" if self.postgres else f"%({name})s"


TEMP_TABLES = ("cls_agg", "cls_pred", "cls_ranked")


def _drop_temp_tables(cursor) -> None:
    for name in TEMP_TABLES:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")


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
    dialect = _Dialect(as_of)
    quote = connection.ops.quote_name
    purchase_table = quote(Purchase._meta.db_table)
    member_table = quote(Member._meta.db_table)
    score_table = quote(MemberScore._meta.db_table)
    params = {
        "as_of": as_of.isoformat(),
        "end": connection.ops.adapt_datetimefield_value(_start_of(as_of + datetime.timedelta(days=1))),
        "window_start": connection.ops.adapt_datetimefield_value(
            _start_of(add_months(as_of, -policy.window_months) + datetime.timedelta(days=1))
        ),
        "lapsed": policy.lapsed_after_days,
        "share": policy.high_value_share,
    }
    day = dialect.local_day("p.ordered_at")
    as_of_date = dialect.date_param("as_of")
    net = "(p.total - p.refunded_total)"
    in_window = "p.ordered_at >= %(window_start)s"

    with connection.cursor() as cursor:
        _drop_temp_tables(cursor)
        if dialect.postgres:
            # Sorts and hash aggregates over a million rows stay in memory (the default 4MB spills
            # them to disk); for this session only, reset at the end.
            cursor.execute("SET work_mem = '256MB'")
        report("aggregate", 0, 1)
        # 1–2. Per member, from the purchase days (what was paid net per local day): window
        # figures, recency and the BG/NBD inputs in days (x = purchase days after the first,
        # t_x = first to last, T = first to D; repeat_net = what the days after the first paid).
        cursor.execute(
            f"CREATE TEMP TABLE cls_agg AS SELECT d.member_id AS member_id, "
            f"ROUND(SUM(d.net_w), 2) AS spend_w, SUM(d.n_w) AS n_w, MAX(d.last_at) AS last_at, "
            f"COUNT(*) - 1 AS x, "
            f"{dialect.days_between('MAX(d.day)', 'MIN(d.day)')} AS t_x, "
            f"{dialect.days_between(as_of_date, 'MIN(d.day)')} AS t_cal, "
            f"{dialect.days_between(as_of_date, 'MAX(d.day)')} AS recency_days, "
            f"ROUND(SUM(CASE WHEN d.day_no > 1 THEN d.net ELSE 0 END), 2) AS repeat_net "
            f"FROM (SELECT p.member_id AS member_id, {day} AS day, "
            f"ROUND(SUM({net}), 2) AS net, "
            f"ROUND(SUM(CASE WHEN {in_window} THEN {net} ELSE 0 END), 2) AS net_w, "
            f"SUM(CASE WHEN {in_window} THEN 1 ELSE 0 END) AS n_w, "
            f"MAX(p.ordered_at) AS last_at, "
            f"ROW_NUMBER() OVER (PARTITION BY p.member_id ORDER BY {day}) AS day_no "
            f"FROM {purchase_table} p "
            # Walk-in sales (no member) count in the sales figures, never in a member's class.
            f"WHERE p.member_id IS NOT NULL AND p.ordered_at < %(end)s AND p.total > p.refunded_total "
            f"GROUP BY p.member_id, {day}) d "
            f"GROUP BY d.member_id",
            params,
        )
        if dialect.postgres:
            cursor.execute("ANALYZE cls_agg")
        report("aggregate", 1, 1)

        # 3. The CLV model, fitted and applied in numpy.
        report("model", 0, 1)
        model = _fit_and_predict(cursor, dialect, as_of=as_of, horizon_months=policy.clv_horizon_months)
        report("model", 1, 1)

        # 4. Classes and RFM quintiles with window functions over everyone who ever bought.
        report("rank", 0, 1)
        ranked_group = "CASE WHEN a.n_w > 0 AND a.recency_days <= %(lapsed)s THEN 1 ELSE 0 END"

        def quintile(order: str) -> str:
            return f"1 + 5 * (RANK() OVER (ORDER BY {order}) - 1) / COUNT(*) OVER ()"

        cursor.execute(
            f"CREATE TEMP TABLE cls_ranked AS SELECT a.member_id AS member_id, a.spend_w AS spend_w, "
            f"a.n_w AS n_w, a.last_at AS last_at, a.recency_days AS recency_days, "
            f"CASE WHEN a.recency_days > %(lapsed)s THEN '{Classification.LAPSED}' "
            f"WHEN a.n_w > 0 THEN CASE WHEN "
            f"(RANK() OVER (PARTITION BY {ranked_group} ORDER BY a.spend_w DESC) - 1) * 100 "
            f"< %(share)s * COUNT(*) OVER (PARTITION BY {ranked_group}) "
            f"THEN '{Classification.HIGH_VALUE}' ELSE '{Classification.POTENTIAL}' END "
            f"ELSE '{Classification.ORDINARY}' END AS classification, "
            f"{quintile('a.recency_days DESC')} AS r_score, "
            f"{quintile('a.n_w')} AS f_score, "
            f"{quintile('a.spend_w')} AS m_score, "
            f"pr.p_alive AS p_alive, pr.expected AS expected, pr.clv AS clv "
            f"FROM cls_agg a LEFT JOIN cls_pred pr ON pr.member_id = a.member_id",
            params,
        )
        if dialect.postgres:
            cursor.execute("CREATE INDEX ON cls_ranked (member_id)")
            cursor.execute("ANALYZE cls_ranked")
        report("rank", 1, 1)

        # 5. Upsert every member's row, a range of member ids per transaction.
        cursor.execute(f"SELECT MIN(id), MAX(id), COUNT(*) FROM {member_table}")
        low, high, members = cursor.fetchone()
        columns = (
            "member_id, as_of, classification, spend_12m, purchases_12m, last_purchase_at, recency_days, "
            "r_score, f_score, m_score, rfm_score, p_alive, churn_risk, expected_purchases, clv, computed_at"
        )
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns.split(", ")[1:])
        upsert = (
            f"INSERT INTO {score_table} ({columns}) "
            f"SELECT m.id, {as_of_date}, COALESCE(r.classification, '{Classification.NO_PURCHASES}'), "
            f"COALESCE(r.spend_w, 0), COALESCE(r.n_w, 0), r.last_at, r.recency_days, "
            f"r.r_score, r.f_score, r.m_score, r.r_score + r.f_score + r.m_score, "
            f"r.p_alive, 1 - r.p_alive, r.expected, ROUND(CAST(r.clv AS NUMERIC), 2), %(now)s "
            # The range on both sides lets each batch read only its slice of the scratch table.
            f"FROM {member_table} m LEFT JOIN cls_ranked r "
            f"ON r.member_id = m.id AND r.member_id >= %(lo)s AND r.member_id < %(hi)s "
            f"WHERE m.id >= %(lo)s AND m.id < %(hi)s "
            f"ON CONFLICT (member_id) DO UPDATE SET {updates}"
        )
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        if members:
            batches = math.ceil((high - low + 1) / batch_size)
            for number in range(batches):
                lo = low + number * batch_size
                with transaction.atomic():
                    cursor.execute(upsert, {**params, "now": now, "lo": lo, "hi": lo + batch_size})
                report("save", number + 1, batches)
        _drop_temp_tables(cursor)
        if dialect.postgres:
            cursor.execute("RESET work_mem")

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


PG_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
PG_COPY_TRAILER = b"\xff\xff"


def _binary_rows(fields: int) -> np.dtype:
    """One row of PostgreSQL's binary COPY format: a bigint (the member id), then float8 columns."""
    layout = [("count", ">i2"), ("len0", ">i4"), ("v0", ">i8")]
    for i in range(1, fields):
        layout += [(f"len{i}", ">i4"), (f"v{i}", ">f8")]
    return np.dtype(layout)


def _read_inputs(cursor, dialect: _Dialect) -> np.ndarray:
    """(member_id, x, t_x, T, repeat_net) of every buyer, by member id, as a float array."""
    select = "SELECT member_id, x, t_x, t_cal, repeat_net FROM cls_agg ORDER BY member_id"
    if not dialect.postgres:
        cursor.execute(select)
        return np.array(cursor.fetchall(), dtype=float).reshape(-1, 5)
    # A million rows: binary COPY parsed by numpy, instead of a million Python tuples.
    columns = "CAST(member_id AS BIGINT), " + ", ".join(
        f"CAST({c} AS DOUBLE PRECISION)" for c in ("x", "t_x", "t_cal", "repeat_net")
    )
    buffer = bytearray()
    with cursor.cursor.copy(
        f"COPY (SELECT {columns} FROM cls_agg ORDER BY member_id) TO STDOUT (FORMAT BINARY)"
    ) as copy:
        for block in copy:
            buffer += block
    rows = np.frombuffer(bytes(buffer[len(PG_COPY_HEADER) : -len(PG_COPY_TRAILER)]), dtype=_binary_rows(5))
    return np.column_stack([rows[f"v{i}"].astype(float) for i in range(5)])


def _write_predictions(cursor, dialect: _Dialect, columns: list[np.ndarray]) -> None:
    insert = "INSERT INTO cls_pred (member_id, p_alive, expected, clv) VALUES (%s, %s, %s, %s)"
    if not dialect.postgres:
        ids, *values = columns
        cursor.executemany(insert, zip(ids.astype(int).tolist(), *(v.tolist() for v in values), strict=True))
        return
    rows = np.zeros(len(columns[0]), dtype=_binary_rows(4))
    rows["count"] = 4
    for i, column in enumerate(columns):
        rows[f"len{i}"] = 8
        rows[f"v{i}"] = column.astype(np.int64) if i == 0 else column
    with cursor.cursor.copy("COPY cls_pred (member_id, p_alive, expected, clv) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(PG_COPY_HEADER + rows.tobytes() + PG_COPY_TRAILER)
    cursor.execute("ANALYZE cls_pred")


def _fit_and_predict(cursor, dialect: _Dialect, *, as_of: datetime.date, horizon_months: int) -> dict:
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
    cursor.execute(
        "CREATE TEMP TABLE cls_pred (member_id BIGINT PRIMARY KEY, p_alive DOUBLE PRECISION, "
        "expected DOUBLE PRECISION, clv DOUBLE PRECISION)"
    )
    data = _read_inputs(cursor, dialect)
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
    _write_predictions(cursor, dialect, [ids, *columns])
    if dialect.postgres and any(np.isnan(column).any() for column in columns):
        for column in ("p_alive", "expected", "clv"):
            cursor.execute(f"UPDATE cls_pred SET {column} = NULL WHERE {column} = 'NaN'")
    return model
