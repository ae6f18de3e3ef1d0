"""Benchmark: the nightly classification of 1,000,000 members on PostgreSQL (target: under 2 minutes).

Run by hand (not by pytest), from the project root:

    .venv/bin/python benchmarks/bench_classify.py [--members 1000000] [--database segments_bench]

Creates a fresh database (dropped first if it exists), migrates it, then inserts with SQL
(generate_series) the members and their purchases: each member is active from a first purchase
in the three years before the as-of date for an exponential life (mean 400 days), with 1–12
purchases (3.5 on average) in it; amounts 20–500, 5% of them half refunded.
It then times `campaigns.services.classification.classify_members` in a subprocess in production mode
(DJANGO_DEBUG=0; the service call only, not Django start-up) twice — the first run inserts every
score, the second updates them all, as every night after the first — checks with SQL that every
member has exactly one score and the classes add up, and writes benchmarks/results/classify.txt.
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
RESULTS = ROOT / "benchmarks" / "results" / "classify.txt"
TARGET_SECONDS = 120.0
TARGET_MEMBERS = 1_000_000
AS_OF = datetime.date(2026, 6, 30)

SEED_SQL = """
BEGIN;
SELECT setseed(0.42);
INSERT INTO members_member (created_at, updated_at, member_no, name, gender, phone_hash, email_hash, status,
                            referral_code, registered_at, source_channel, notes, birth_month)
SELECT now(), now(), 'B' || lpad(g::text, 9, '0'), 'Bench ' || g, 'unknown', '', '', 'active',
       'BR' || g, TIMESTAMPTZ '2023-06-01 10:00+08', 'store', '', 1 + g % 12
FROM generate_series(1, {members}) AS g;

-- Each member: a first purchase in the three years before the as-of date, an active life of
-- Exp(mean 400 days) after it (then silence: the dropout BG/NBD models), 1 + ⌊12·u·v⌋ purchases
-- (3.5 on average) at random times within the active life; amounts 20–500, 5% half refunded.
INSERT INTO members_purchase (member_id, external_ref, store_id, channel, payment_method, ordered_at, subtotal,
                              discount_total, total, refunded_total, created_at)
SELECT p.member_id, 'BP' || p.member_id || '-' || p.k, NULL, 'store', '', p.ordered_at,
       p.amount, 0, p.amount, CASE WHEN p.r < 0.05 THEN round(p.amount / 2, 2) ELSE 0 END, now()
FROM (
  SELECT s.member_id, k,
         CASE WHEN k = 1 THEN s.first_at ELSE s.first_at + random() * (s.end_at - s.first_at) END AS ordered_at,
         round((20 + random() * 480)::numeric, 2) AS amount, random() AS r
  FROM (
    SELECT f.member_id, f.first_at, LEAST(f.first_at + f.life, TIMESTAMPTZ '{as_of} 20:00+08') AS end_at, f.n
    FROM (
      SELECT m.id AS member_id,
             TIMESTAMPTZ '{as_of} 20:00+08' - random() * INTERVAL '1095 days' AS first_at,
             -ln(1 - random()) * INTERVAL '400 days' AS life,
             1 + floor(12 * random() * random())::int AS n
      FROM members_member m
    ) f
  ) s CROSS JOIN LATERAL generate_series(1, s.n) AS k
) p;
COMMIT;
ANALYZE;
"""

CHECK_SQL = """
SELECT
  (SELECT count(*) FROM members_member),
  (SELECT count(*) FROM campaigns_memberscore),
  (SELECT count(*) FROM members_member m WHERE NOT EXISTS
     (SELECT 1 FROM campaigns_memberscore s WHERE s.member_id = m.id AND s.as_of = DATE '{as_of}')),
  (SELECT count(*) FROM campaigns_memberscore WHERE clv IS NULL)
"""


def sh(*args: str, env: dict | None = None, capture: bool = True, stdin: str | None = None) -> str:
    done = subprocess.run(args, env=env, check=True, capture_output=capture, text=True, cwd=ROOT, input=stdin)
    return done.stdout.strip() if capture else ""


def child() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_crm.settings")
    import django

    django.setup()
    from campaigns.services.classification import classify_members

    steps: dict[str, float] = {}
    last = [time.perf_counter(), None]

    def progress(step, done, total):
        now = time.perf_counter()
        if last[1] is not None and last[1] != step:
            steps[last[1]] = steps.get(last[1], 0.0)
        if last[1] is not None:
            steps[last[1]] = steps.get(last[1], 0.0) + (now - last[0])
        last[0], last[1] = now, step

    started = time.perf_counter()
    first = classify_members(as_of=AS_OF, progress=progress)
    first_seconds = time.perf_counter() - started
    if last[1] is not None:
        steps[last[1]] = steps.get(last[1], 0.0) + (time.perf_counter() - last[0])
    started = time.perf_counter()
    second = classify_members(as_of=AS_OF)
    second_seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "first": first_seconds,
                "second": second_seconds,
                "steps": {k: round(v, 1) for k, v in steps.items()},
                "members": first.members,
                "counts": first.counts,
                "second_counts": second.counts,
                "model": first.model,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=TARGET_MEMBERS)
    parser.add_argument("--database", default="segments_bench")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child()
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
    sh(*psql, stdin=SEED_SQL.format(members=args.members, as_of=AS_OF.isoformat()))
    seeded = time.perf_counter() - started
    purchases = int(sh(*psql, "-tAc", "SELECT count(*) FROM members_purchase"))
    print(f"Seeded {args.members:,} members with {purchases:,} purchases in {seeded:.1f}s")

    load = os.getloadavg()[0]
    out = sh(sys.executable, __file__, "--child", env=env)
    figures = json.loads(out.splitlines()[-1])
    members, scores, unscored, no_clv = (
        int(v) for v in sh(*psql, "-tAF,", "-c", CHECK_SQL.format(as_of=AS_OF.isoformat())).split(",")
    )
    if not args.keep:
        sh("dropdb", *pg, "--if-exists", args.database)

    counts = figures["counts"]
    ok = (
        members == scores == figures["members"] == args.members
        and unscored == 0
        and sum(counts.values()) == members
        and figures["second_counts"] == counts
        and figures["model"].get("fitted") is True
        and no_clv == counts.get("no_purchases", 0)
    )
    ratio = figures["first"] / TARGET_SECONDS
    model = figures["model"]
    lines = [
        "classification benchmark (benchmarks/bench_classify.py)",
        f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"machine: {sh('uname', '-m')}, nproc {sh('nproc')}, Python {platform.python_version()}",
        f"PostgreSQL: {pg_version}",
        f"data: {args.members:,} members, {purchases:,} purchases over 3 years "
        f"(active lives of mean 400 days, 5% half refunded), "
        f"as of {AS_OF}, DJANGO_DEBUG=0, load average before {load:.2f}",
        f"classify_members, first run (inserts every score): {figures['first']:.1f} s "
        f"= {ratio:.2f}× the {TARGET_SECONDS:.0f} s target for {TARGET_MEMBERS:,} members (below 1 = faster)",
        f"  steps (s): {figures['steps']}",
        f"classify_members, second run (updates every score): {figures['second']:.1f} s",
        f"classes: {counts}",
        f"CLV model fitted on {model.get('fitted_on'):,} of {model.get('customers'):,} buyers: "
        f"BG/NBD {model.get('bgnbd')}, Gamma-Gamma {model.get('gamma_gamma')}",
        f"check (SQL): {members:,} members, {scores:,} scores, {unscored} without a score for {AS_OF}, "
        f"{no_clv:,} without CLV (= never bought) -> {'OK' if ok else 'FAILED'}",
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
