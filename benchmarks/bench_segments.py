"""Benchmark: counting a segment by each of issue 18's rule keys in a 1,000,000-member shop on
PostgreSQL (target: every count under 2 s).

Run by hand (not by pytest), from the project root:

    .venv/bin/python benchmarks/bench_segments.py [--members 1000000] [--database segments_keys_bench]

Creates a fresh database (dropped first if it exists), migrates it, then inserts with SQL
(generate_series) the members and what the keys read: three purchases of one line each per member
over the last 400 days (roses, garden roses under roses, lilies, plants), a score (churn risk, CLV,
predicted purchases) for each, preferences (colour for 30%, a favourite category for 20%), an
important date for 12% and the data-processing consent for 97%, a coupon for 20%, a points account
with one lot for each (expiring within a year), a paid membership for 5% and stored value for 10%.

The lines go in with one INSERT … SELECT, so the purchase summary's trigger (migration
members 0023) fills `members_purchasesummary` in that statement, as it would for an import.

Then, in a subprocess in production mode (DJANGO_DEBUG=0), it times `segment_members(rules).count()`
for each key (and the issue's combined segment), after one warm-up count: wall time and the process's
CPU time (the database's work is in the wall time; the machine may be shared, so the load average
is printed too). Writes benchmarks/results/segments.txt.
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
RESULTS = ROOT / "benchmarks" / "results" / "segments.txt"
TARGET_SECONDS = 2.0
TARGET_MEMBERS = 1_000_000

SEED_SQL = """
BEGIN;
SELECT setseed(0.18);
INSERT INTO members_category (created_at, updated_at, code, name, parent_id) VALUES
  (now(), now(), 'flowers', '鲜花', NULL);
INSERT INTO members_category (created_at, updated_at, code, name, parent_id)
  SELECT now(), now(), c.code, c.name, (SELECT id FROM members_category WHERE code = 'flowers')
  FROM (VALUES ('roses', '玫瑰'), ('lilies', '百合')) AS c(code, name);
INSERT INTO members_category (created_at, updated_at, code, name, parent_id) VALUES
  (now(), now(), 'garden-roses', '庭院玫瑰', (SELECT id FROM members_category WHERE code = 'roses')),
  (now(), now(), 'plants', '绿植', NULL);
INSERT INTO members_product (created_at, updated_at, sku, name, unit_price, is_active, category_id)
  SELECT now(), now(), p.sku, p.name, p.price, true, (SELECT id FROM members_category WHERE code = p.cat)
  FROM (VALUES ('ROSE-11', '11枝红玫瑰', 199.00, 'roses'), ('GROSE-1', '庭院玫瑰', 99.00, 'garden-roses'),
               ('LILY-5', '5枝百合', 129.00, 'lilies'), ('POT-1', '绿萝', 59.00, 'plants')) AS p(sku, name, price, cat);

INSERT INTO members_member (created_at, updated_at, member_no, name, gender, phone_hash, email_hash, status,
                            referral_code, registered_at, source_channel, notes, phone_last4)
SELECT now(), now(), 'S' || lpad(g::text, 9, '0'), 'Bench ' || g, 'unknown', '', '', 'active',
       'SR' || g, TIMESTAMPTZ '2025-01-01 10:00+08', 'store', '', ''
FROM generate_series(1, {members}) AS g;

CREATE TEMP TABLE bench_products AS
  SELECT row_number() OVER (ORDER BY sku) AS n, id, sku, name, unit_price, category_id FROM members_product;
INSERT INTO members_purchase (member_id, external_ref, store_id, channel, payment_method, ordered_at, subtotal,
                              discount_total, total, points_value, refunded_total, created_at)
SELECT m.id, 'SP' || m.id || '-' || k, NULL, 'store', '', now() - random() * INTERVAL '400 days',
       100, 0, 100, 0, CASE WHEN random() < 0.03 THEN 100 ELSE 0 END, now()
FROM members_member m CROSS JOIN generate_series(1, 3) AS k;
INSERT INTO members_purchaseitem (purchase_id, product_id, sku, name, category_id, quantity, unit_price, discount,
                                  line_total, returned_quantity)
SELECT p.id, b.id, b.sku, b.name, b.category_id, 1, b.unit_price, 0, b.unit_price, 0
FROM (SELECT id, 1 + floor(random() * 4)::int AS n FROM members_purchase) p JOIN bench_products b ON b.n = p.n;

INSERT INTO campaigns_memberscore (member_id, as_of, classification, spend_12m, purchases_12m, churn_risk, p_alive,
                                   expected_purchases, clv, computed_at)
SELECT s.id, CURRENT_DATE, 'potential', 300, 3, s.r, 1 - s.r, round((4 * random())::numeric, 2),
       round((2000 * random())::numeric, 2), now()
FROM (SELECT id, random() AS r FROM members_member) s;

INSERT INTO members_preference (created_at, updated_at, member_id, kind, key, value, category_id, product_id)
SELECT now(), now(), id, 'colour', '', (ARRAY['红色', '粉色', '白色', '香槟色'])[1 + floor(random() * 4)::int],
       NULL, NULL
FROM members_member WHERE random() < 0.3;
INSERT INTO members_preference (created_at, updated_at, member_id, kind, key, value, category_id, product_id)
SELECT now(), now(), m.id, 'favourite_category', '', '', c.id, NULL
FROM members_member m
JOIN members_category c ON c.code = (ARRAY['roses', 'lilies', 'plants'])[1 + (m.id % 3)::int]
WHERE random() < 0.2;
INSERT INTO members_consent (member_id, topic, granted, updated_at)
SELECT id, 'data_processing', random() < 0.97, now() FROM members_member;
INSERT INTO members_importantdate (created_at, updated_at, member_id, kind, label, month, day, year)
SELECT now(), now(), id, 'anniversary', '', 1 + floor(random() * 12)::int, 1 + floor(random() * 28)::int, ''
FROM members_member WHERE random() < 0.12;

INSERT INTO rewards_coupontemplate (created_at, updated_at, name, kind, value, min_spend, is_active)
VALUES (now(), now(), 'Bench ¥20', 'amount', 20, 0, true);
INSERT INTO rewards_coupon (code, template_id, member_id, kind, value, min_spend, status, source, issued_at,
                            expires_at, redeemed_at, redeemed_ref, void_reason, void_reason_code, issue_reason)
SELECT 'SC' || c.id, (SELECT max(id) FROM rewards_coupontemplate), c.id, 'amount', 20, 0,
       CASE WHEN c.used THEN 'redeemed' ELSE 'issued' END, 'campaign', now() - INTERVAL '10 days',
       now() + (random() * 60 - 20) * INTERVAL '1 day', CASE WHEN c.used THEN now() - INTERVAL '5 days' END,
       CASE WHEN c.used THEN 'SR' || c.id ELSE '' END, '', '', ''
FROM (SELECT id, random() < 0.3 AS used FROM members_member WHERE random() < 0.2) c;

INSERT INTO rewards_pointsaccount (member_id, balance, lifetime_earned, lifetime_spend, tier_id, created_at, updated_at)
SELECT a.id, a.points, a.points, 0, (SELECT min(id) FROM rewards_tier), now(), now()
FROM (SELECT id, floor(random() * 2000)::int AS points FROM members_member) a;
INSERT INTO rewards_ledgerentry (account_id, member_id, kind, points, balance_after, reason, created_at)
SELECT id, member_id, 'earn', balance, balance, '', now() FROM rewards_pointsaccount WHERE balance > 0;
INSERT INTO rewards_pointslot (entry_id, account_id, points, remaining, expired, expires_on)
SELECT e.id, e.account_id, e.points, e.points, 0, CURRENT_DATE + floor(random() * 365)::int
FROM rewards_ledgerentry e;

INSERT INTO rewards_membershipsubscription (member_id, plan_id, starts_on, ends_on, price_paid, status, external_ref,
                                            created_at)
SELECT id, (SELECT min(id) FROM rewards_membershipplan), CURRENT_DATE - 100, CURRENT_DATE + 265, 199, 'active',
       'SM' || id, now()
FROM members_member WHERE random() < 0.05;
INSERT INTO rewards_storedvalueaccount (member_id, principal, bonus, created_at, updated_at)
SELECT id, round((1000 * random())::numeric, 2), round((100 * random())::numeric, 2), now(), now()
FROM members_member WHERE random() < 0.1;
COMMIT;
ANALYZE;
"""

CASES = [
    ("bought_product (ever)", {"bought_product": {"product": "ROSE-11"}}),
    ("bought_product (90 days)", {"bought_product": {"product": "ROSE-11", "within_days": 90}}),
    ("bought_category (ever, with children)", {"bought_category": {"category": "flowers"}}),
    ("bought_category (90 days)", {"bought_category": {"category": "roses", "within_days": 90}}),
    ("not_bought_category_days", {"not_bought_category_days": {"category": "roses", "days": 60}}),
    ("favourite_category", {"favourite_category": ["roses"]}),
    ("colour", {"colour": ["红色", "粉色"]}),
    ("style", {"style": ["简约"]}),
    ("preferred_channel", {"preferred_channel": ["微信"]}),
    ("churn_risk_min", {"churn_risk_min": 0.6}),
    ("churn_risk_max", {"churn_risk_max": 0.2}),
    ("clv_min", {"clv_min": "1500"}),
    ("clv_max", {"clv_max": "100"}),
    ("predicted_purchases_min", {"predicted_purchases_min": 3}),
    ("important_date_within_days", {"important_date_within_days": 14}),
    ("has_valid_coupon", {"has_valid_coupon": True}),
    ("points_balance_min", {"points_balance_min": 1000}),
    ("points_balance_max", {"points_balance_max": 100}),
    ("points_expiring_within_days", {"points_expiring_within_days": 30}),
    ("points_expiring_within_days (min 500)", {"points_expiring_within_days": {"days": 30, "min_points": 500}}),
    ("paid_plan", {"paid_plan": True}),
    ("stored_value_balance_min", {"stored_value_balance_min": "500"}),
    ("issue: roses in 90 days + churn > 60%", {"bought_category": {"category": "roses", "within_days": 90},
                                               "churn_risk_min": 0.6}),
]  # fmt: skip


def sh(*args: str, env: dict | None = None, stdin: str | None = None) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, cwd=ROOT, input=stdin)
    if done.returncode:
        sys.exit(f"{args[0]} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def child() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_crm.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from campaigns.segments import _build, validate_rules

    rows = []
    for name, rules in CASES:
        clean = validate_rules(rules)
        _build(clean).count()  # warm the cache as a live count would be
        wall, cpu = time.perf_counter(), time.process_time()
        with CaptureQueriesContext(connection) as queries:
            count = _build(clean).count()  # the count alone (validation reads a category or product row)
        rows.append(
            {
                "name": name,
                "count": count,
                "ms": round((time.perf_counter() - wall) * 1000, 1),
                "cpu_ms": round((time.process_time() - cpu) * 1000, 1),
                "queries": len(queries),
            }
        )
    print(json.dumps(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=TARGET_MEMBERS)
    parser.add_argument("--database", default="segments_keys_bench")
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
        "SMS_PROVIDER": "log",
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
    sh(*psql, stdin=SEED_SQL.format(members=args.members))
    seeded = time.perf_counter() - started
    lines_count = int(sh(*psql, "-tAc", "SELECT count(*) FROM members_purchaseitem"))
    print(f"Seeded {args.members:,} members with {lines_count:,} purchase lines in {seeded:.1f}s", flush=True)

    load = os.getloadavg()
    rows = json.loads(sh(sys.executable, __file__, "--child", env=env).splitlines()[-1])
    if not args.keep:
        sh("dropdb", *pg, "--if-exists", args.database)
    slowest = max(row["ms"] for row in rows)
    ok = all(row["queries"] == 1 for row in rows)
    lines = [
        "segment keys benchmark (benchmarks/bench_segments.py)",
        f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"machine: {sh('uname', '-m')}, nproc {sh('nproc')}, Python {platform.python_version()}",
        f"PostgreSQL: {pg_version}",
        f"data: {args.members:,} members, {lines_count:,} purchase lines over 400 days, DJANGO_DEBUG=0, "
        f"load average before {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (a shared machine: see CPU time)",
        f"{'key':<42}{'members':>10}{'ms':>10}{'cpu ms':>10}{'queries':>9}",
        *(f"{r['name']:<42}{r['count']:>10,}{r['ms']:>10.1f}{r['cpu_ms']:>10.1f}{r['queries']:>9}" for r in rows),
        f"slowest: {slowest:.0f} ms = {slowest / 1000 / TARGET_SECONDS:.2f}× the {TARGET_SECONDS:.0f} s target "
        f"(below 1 = faster); one query per count: {'OK' if ok else 'FAILED'}",
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
