"""Benchmark: the nightly tier re-evaluation of 200,000 accounts on PostgreSQL.

Run by hand (not by pytest), from the project root:

    .venv/bin/python benchmarks/bench_reevaluate_tiers.py [--members 200000] [--purchases-each 5]
        [--batch-size 10000] [--database loyalty_bench_tiers]

Creates a fresh database (dropped first if it exists), migrates it with `manage.py migrate`, then
inserts with SQL (generate_series) the members, one posted purchase per member and day-slot (spread
over the two years before TODAY, with their postings and earn ledger rows) and the points accounts,
each at the tier its LIFETIME spend reaches (the default policy). It then times
`rewards.services.tiers.reevaluate_tiers` in a subprocess in production mode (DJANGO_DEBUG=0,
timing the service call only, not Django start-up), for:

1. lifetime spend (the default): nobody changes — the cost of scanning every account;
2. spend in a 12-month window, 30 days of grace, on TODAY: every member whose last-12-month spend
   is below their tier's threshold starts the grace period;
3. the same again the same day: nothing changes (idempotent);
4. 30 days later: those still below are downgraded ("grace period ended"), new ones start grace;
5. points earned in a 12-month window on that day (a grouped aggregate over the ledger).

It checks with SQL that every account's tier is the last tier its history moved it to, and writes
the figures to benchmarks/results/reevaluate_tiers.txt.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "reevaluate_tiers.txt"
TODAY = datetime.date(2026, 6, 30)
LATER = TODAY + datetime.timedelta(days=30)

SEED_SQL = """
BEGIN;
INSERT INTO members_member (created_at, updated_at, member_no, name, gender, phone_hash, email_hash, status,
                            referral_code, registered_at, source_channel, notes)
SELECT now(), now(), 'T' || lpad(g::text, 9, '0'), 'Bench ' || g, 'unknown', '', '', 'active',
       'TR' || g, now(), 'store', ''
FROM generate_series(1, {members}) AS g;

-- {each} purchases per member over the 730 days before {today}; 20.00 .. 2,019.00 each.
INSERT INTO members_purchase (external_ref, channel, payment_method, ordered_at, subtotal, discount_total, total,
                              refunded_total, created_at, member_id, store_id)
SELECT 'TB' || m.id || '-' || k, 'store', '',
       TIMESTAMPTZ '{today} 12:00+08' - ((m.id * 31 + k * 173) % 730) * INTERVAL '1 day',
       a.amount, 0, a.amount, 0, now(), m.id, NULL
FROM members_member m CROSS JOIN generate_series(1, {each}) AS k
CROSS JOIN LATERAL (SELECT (20 + (m.id * 7919 + k * 104729) % 2000)::numeric(12, 2) AS amount) a;

INSERT INTO rewards_pointsaccount (member_id, balance, lifetime_earned, lifetime_spend, tier_id, below_since,
                                   created_at, updated_at)
SELECT p.member_id, sum(floor(p.total))::int, sum(floor(p.total))::int, sum(p.total),
       (SELECT t.id FROM rewards_tier t WHERE t.threshold <= sum(p.total) ORDER BY t.rank DESC LIMIT 1),
       NULL, now(), now()
FROM members_purchase p GROUP BY p.member_id ORDER BY p.member_id;

INSERT INTO rewards_ledgerentry (account_id, member_id, kind, points, balance_after, purchase_id, reason, actor_id,
                                 created_at)
SELECT a.id, p.member_id, 'earn', floor(p.total)::int, 0, p.id, 'bench', NULL, p.ordered_at
FROM members_purchase p JOIN rewards_pointsaccount a ON a.member_id = p.member_id;

INSERT INTO rewards_purchaseposting (fingerprint, points_earned, points_balance, tier_changed, points_reversed,
                                     created_at, purchase_id, tier_id)
SELECT 'bench', floor(p.total)::int, 0, false, 0, now(), p.id, a.tier_id
FROM members_purchase p JOIN rewards_pointsaccount a ON a.member_id = p.member_id;
COMMIT;
ANALYZE;
"""

POLICY_SQL = "UPDATE rewards_tierpolicy SET basis = '{basis}', window_months = 12, grace_days = 30, downgrade = true"

# Accounts whose tier is not where their latest history row put them (0 expected), history rows.
CHECK_SQL = """
SELECT
  (SELECT count(*) FROM rewards_pointsaccount a
     JOIN LATERAL (SELECT h.to_tier_id FROM rewards_tierhistory h WHERE h.member_id = a.member_id
                   ORDER BY h.id DESC LIMIT 1) last ON true
   WHERE last.to_tier_id <> a.tier_id),
  (SELECT count(*) FROM rewards_tierhistory),
  (SELECT count(*) FROM rewards_pointsaccount WHERE below_since IS NOT NULL)
"""

RUNS = [
    # label, basis, day
    ("lifetime spend (default), nothing to change", "lifetime_spend", TODAY),
    ("12-month spend window, first night", "window_spend", TODAY),
    ("12-month spend window, same night again", "window_spend", TODAY),
    ("12-month spend window, 30 days later (grace ended)", "window_spend", LATER),
    ("12-month points window, that day", "window_points", LATER),
]


def sh(*args: str, env: dict | None = None, capture: bool = True, stdin: str | None = None) -> str:
    done = subprocess.run(args, env=env, check=True, capture_output=capture, text=True, cwd=ROOT, input=stdin)
    return done.stdout.strip() if capture else ""


def child(batch_size: int, today: str) -> None:
    """In the subprocess: time the service itself (Django start-up excluded)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_crm.settings")
    import django

    django.setup()
    from rewards.services.tiers import reevaluate_tiers

    started = time.perf_counter()
    result = reevaluate_tiers(today=datetime.date.fromisoformat(today), batch_size=batch_size)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": seconds,
                "accounts": result.accounts,
                "batches": result.batches,
                "upgrades": result.upgrades,
                "downgrades": result.downgrades,
                "grace_started": result.grace_started,
                "grace_cleared": result.grace_cleared,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--purchases-each", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--database", default="loyalty_bench_tiers")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--today", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.batch_size, args.today)
        return

    pg = ["-h", args.host, "-U", args.user]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{args.user}@{args.host}:5432/{args.database}",
        "DJANGO_DEBUG": "0",
        "SMS_PROVIDER": "log",  # production mode needs it said; nothing is sent here
        "DJANGO_SECRET_KEY": "benchmark-only-" + base64.urlsafe_b64encode(os.urandom(48)).decode(),
        "FIELD_ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)  # each run reads the policy fresh (local-memory cache per process)
    psql = ["psql", *pg, "-d", args.database, "-v", "ON_ERROR_STOP=1", "-q"]
    sh("dropdb", *pg, "--if-exists", args.database)
    sh("createdb", *pg, args.database)
    sh(sys.executable, "manage.py", "migrate", "--no-input", "-v", "0", env=env)
    pg_version = sh(*psql, "-tAc", "SHOW server_version")

    started = time.perf_counter()
    sh(*psql, stdin=SEED_SQL.format(members=args.members, each=args.purchases_each, today=TODAY.isoformat()))
    seeded = time.perf_counter() - started
    purchases = int(sh(*psql, "-tAc", "SELECT count(*) FROM members_purchase"))
    tiers = sh(
        *psql,
        "-tAc",
        "SELECT string_agg(t.code || ' ' || n, ', ' ORDER BY t.rank) FROM rewards_tier t "
        "JOIN (SELECT tier_id, count(*) n FROM rewards_pointsaccount GROUP BY tier_id) c ON c.tier_id = t.id",
    )
    print(f"Seeded {args.members:,} accounts, {purchases:,} posted purchases in {seeded:.1f}s; tiers: {tiers}")

    load = os.getloadavg()[0]  # other work on the machine skews the figures; say how busy it was
    figures = []
    for label, basis, day in RUNS:
        sh(*psql, "-c", POLICY_SQL.format(basis=basis))
        out = sh(
            sys.executable,
            __file__,
            "--child",
            "--batch-size",
            str(args.batch_size),
            "--today",
            day.isoformat(),
            env=env,
        )
        run = json.loads(out.splitlines()[-1])
        figures.append((label, day, run))
        print(
            f"{label} ({day}): {run['seconds']:.2f} s = {run['accounts'] / run['seconds']:,.0f} accounts/s; "
            f"{run['upgrades']:,} up, {run['downgrades']:,} down, {run['grace_started']:,} grace started, "
            f"{run['grace_cleared']:,} cleared"
        )
    wrong_tier, history_rows, in_grace = (int(v) for v in sh(*psql, "-tAF,", "-c", CHECK_SQL).split(","))
    if not args.keep:
        sh("dropdb", *pg, "--if-exists", args.database)

    moved = sum(run["upgrades"] + run["downgrades"] for _label, _day, run in figures)
    ok = (
        wrong_tier == 0
        and history_rows == moved
        and figures[0][2]["grace_started"] + figures[0][2]["downgrades"] == 0
        and figures[2][2] == {**figures[2][2], "upgrades": 0, "downgrades": 0, "grace_started": 0, "grace_cleared": 0}
        and figures[3][2]["downgrades"] > 0
    )
    lines = [
        "tier re-evaluation benchmark (benchmarks/bench_reevaluate_tiers.py)",
        f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"machine: {sh('uname', '-m')}, nproc {sh('nproc')}, Python {platform.python_version()}",
        f"PostgreSQL: {pg_version}",
        f"data: {args.members:,} accounts ({tiers} by lifetime spend), {purchases:,} posted purchases with earn rows "
        f"over two years, batch size {args.batch_size:,}, DJANGO_DEBUG=0, load average before {load:.2f}",
    ]
    for label, day, run in figures:
        lines.append(
            f"{label} ({day}): {run['seconds']:.2f} s = {run['accounts'] / run['seconds']:,.0f} accounts/s, "
            f"{run['batches']} batches; {run['upgrades']:,} upgraded, {run['downgrades']:,} downgraded, "
            f"{run['grace_started']:,} grace started, {run['grace_cleared']:,} qualifying again"
        )
    lines += [
        f"check (SQL): {wrong_tier} accounts whose tier differs from their last history row, {history_rows:,} history "
        f"rows (= {moved:,} tier moves), {in_grace:,} accounts in grace at the end -> {'OK' if ok else 'FAILED'}",
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    print(f"Written to {RESULTS.relative_to(ROOT)}")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
