"""Benchmark: the nightly expiry of 1,000,000 due lots on PostgreSQL (target: under 60 s).

Run by hand (not by pytest), from the project root:

    .venv/bin/python benchmarks/bench_expiry.py [--lots 1000000] [--members 100000] [--batch-size 50000]

Creates a fresh database (`loyalty_bench_expiry` on 127.0.0.1 as user postgres, dropped first if it
exists), migrates it with `manage.py migrate`, then inserts with SQL (generate_series) the members,
their points accounts, one earn ledger row per lot and the due lots, with each account's balance
equal to its ledger sum. It then times `rewards.services.expiry.expire_due_lots` in a subprocess
in production mode (DJANGO_DEBUG=0, timing the service call only, not Django start-up), checks
with one SQL query that every balance equals its ledger sum and that no due lot is left, and
writes the figures to benchmarks/results/expiry.txt.
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
RESULTS = ROOT / "benchmarks" / "results" / "expiry.txt"
TARGET_SECONDS = 60.0
TARGET_LOTS = 1_000_000
TODAY = datetime.date(2026, 1, 1)  # every seeded lot expires on or before 2025-12-31

SEED_SQL = """
BEGIN;
INSERT INTO members_member (created_at, updated_at, member_no, name, gender, phone_hash, email_hash, status,
                            referral_code, registered_at, source_channel, notes)
SELECT now(), now(), 'B' || lpad(g::text, 9, '0'), 'Bench ' || g, 'unknown', '', '', 'active',
       'BR' || g, now(), 'store', ''
FROM generate_series(1, {members}) AS g;

INSERT INTO rewards_pointsaccount (member_id, balance, lifetime_earned, lifetime_spend, tier_id, created_at, updated_at)
SELECT m.id, 0, 0, 0, (SELECT id FROM rewards_tier ORDER BY rank LIMIT 1), now(), now()
FROM members_member m ORDER BY m.id;

-- One earn row per lot; lot g belongs to account (g mod members), with 1..97 points.
INSERT INTO rewards_ledgerentry (account_id, member_id, kind, points, balance_after, purchase_id, reason, actor_id,
                                 created_at)
SELECT a.id, a.member_id, 'earn', 1 + (g % 97), 1 + (g % 97), NULL, 'bench', NULL, now()
FROM generate_series(0, {lots} - 1) AS g
JOIN rewards_pointsaccount a ON a.id = (SELECT min(id) FROM rewards_pointsaccount) + (g % {members});

-- Due lots: expiry dates spread over 2024-01-01 .. 2025-12-31; a tenth are partly spent already.
INSERT INTO rewards_pointslot (entry_id, account_id, points, remaining, expired, expires_on)
SELECT e.id, e.account_id, e.points,
       CASE WHEN e.id % 10 = 0 THEN (e.points + 1) / 2 ELSE e.points END, 0,
       DATE '2024-01-01' + (e.id % 731)::int
FROM rewards_ledgerentry e WHERE e.kind = 'earn';

-- The spent halves as spend rows, so balance == ledger sum == what the lots hold.
INSERT INTO rewards_ledgerentry (account_id, member_id, kind, points, balance_after, purchase_id, reason, actor_id,
                                 created_at)
SELECT l.account_id, a.member_id, 'spend', -(l.points - l.remaining), 0, NULL, 'bench', NULL, now()
FROM rewards_pointslot l JOIN rewards_pointsaccount a ON a.id = l.account_id WHERE l.remaining < l.points;

UPDATE rewards_pointsaccount a SET balance = s.balance, lifetime_earned = s.earned
FROM (SELECT account_id, sum(points) AS balance, sum(points) FILTER (WHERE points > 0) AS earned
      FROM rewards_ledgerentry GROUP BY account_id) s
WHERE a.id = s.account_id;
COMMIT;
ANALYZE;
"""

# One query: accounts whose balance differs from their ledger sum, due lots left, expire rows, points expired.
CHECK_SQL = """
SELECT
  (SELECT count(*) FROM rewards_pointsaccount a
     LEFT JOIN (SELECT account_id, sum(points) AS s FROM rewards_ledgerentry GROUP BY account_id) l
       ON l.account_id = a.id
   WHERE a.balance <> coalesce(l.s, 0)),
  (SELECT count(*) FROM rewards_pointslot WHERE remaining > 0 AND expires_on < DATE '{today}'),
  (SELECT count(*) FROM rewards_ledgerentry WHERE kind = 'expire'),
  (SELECT coalesce(-sum(points), 0) FROM rewards_ledgerentry WHERE kind = 'expire')
"""


def sh(*args: str, env: dict | None = None, capture: bool = True, stdin: str | None = None) -> str:
    done = subprocess.run(args, env=env, check=True, capture_output=capture, text=True, cwd=ROOT, input=stdin)
    return done.stdout.strip() if capture else ""


def child(batch_size: int) -> None:
    """In the subprocess: time the service itself (Django start-up excluded)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_crm.settings")
    import django

    django.setup()
    from rewards.services.expiry import expire_due_lots

    started = time.perf_counter()
    result = expire_due_lots(today=TODAY, batch_size=batch_size)
    seconds = time.perf_counter() - started
    again = expire_due_lots(today=TODAY, batch_size=batch_size)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "lots": result.lots,
                "points": result.points,
                "accounts": result.accounts,
                "batches": result.batches,
                "second_run_lots": again.lots,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lots", type=int, default=TARGET_LOTS)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=50_000)
    parser.add_argument("--database", default="loyalty_bench_expiry")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.batch_size)
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
    psql = ["psql", *pg, "-d", args.database, "-v", "ON_ERROR_STOP=1", "-q"]
    sh("dropdb", *pg, "--if-exists", args.database)
    sh("createdb", *pg, args.database)
    sh(sys.executable, "manage.py", "migrate", "--no-input", "-v", "0", env=env)
    pg_version = sh(*psql, "-tAc", "SHOW server_version")

    started = time.perf_counter()
    sh(*psql, stdin=SEED_SQL.format(members=args.members, lots=args.lots))
    seeded = time.perf_counter() - started
    due_points = int(sh(*psql, "-tAc", "SELECT sum(remaining) FROM rewards_pointslot"))
    print(f"Seeded {args.lots:,} due lots for {args.members:,} members ({due_points:,} points) in {seeded:.1f}s")

    load = os.getloadavg()[0]  # other work on the machine skews the figures; say how busy it was
    out = sh(sys.executable, __file__, "--child", "--batch-size", str(args.batch_size), env=env)
    figures = json.loads(out.splitlines()[-1])
    rate = figures["lots"] / figures["seconds"]
    ratio = figures["seconds"] / TARGET_SECONDS
    print(
        f"expire_due_lots: {figures['seconds']:.2f}s for {figures['lots']:,} lots = {rate:,.0f} lots/s; "
        f"{ratio:.2f}× the {TARGET_SECONDS:.0f} s target (below 1 = faster); {figures['batches']} batches, "
        f"{figures['accounts']:,} account-batches; second run expired {figures['second_run_lots']}"
    )

    mismatched, left, expire_rows, expired_points = (
        int(v) for v in sh(*psql, "-tAF,", "-c", CHECK_SQL.format(today=TODAY.isoformat())).split(",")
    )
    print(
        f"check: {mismatched} accounts with balance != ledger sum, {left} due lots left, "
        f"{expire_rows:,} expire rows, {expired_points:,} points expired"
    )
    if not args.keep:
        sh("dropdb", *pg, "--if-exists", args.database)

    ok = (
        mismatched == 0
        and left == 0
        and expire_rows == figures["lots"] == args.lots
        and expired_points == figures["points"] == due_points
        and figures["second_run_lots"] == 0
    )
    lines = [
        "expiry benchmark (benchmarks/bench_expiry.py)",
        f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"machine: {sh('uname', '-m')}, nproc {sh('nproc')}, Python {platform.python_version()}",
        f"PostgreSQL: {pg_version}",
        f"data: {args.lots:,} due lots for {args.members:,} members ({due_points:,} points; a tenth partly spent), "
        f"batch size {args.batch_size:,}, DJANGO_DEBUG=0, load average before {load:.2f}",
        f"expire_due_lots: {figures['seconds']:.2f} s = {rate:,.0f} lots/s "
        f"= {ratio:.2f}× the {TARGET_SECONDS:.0f} s target for {TARGET_LOTS:,} lots (below 1 = faster)"
        + ("" if args.lots == TARGET_LOTS else f" (run with {args.lots:,} lots, not {TARGET_LOTS:,})"),
        f"batches: {figures['batches']}; second run expired {figures['second_run_lots']} lots",
        f"check (one SQL query): {mismatched} accounts with balance != ledger sum, {left} due lots left, "
        f"{expire_rows:,} expire rows, {expired_points:,} points expired -> {'OK' if ok else 'FAILED'}",
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
