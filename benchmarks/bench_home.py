"""Benchmark: the admin home page (each role's workspace, loyalty_crm.home) in a 1,000,000-member
shop on PostgreSQL (target: median under 300 ms per role).

Run by hand (not by pytest), from the project root:

    .venv/bin/python benchmarks/bench_home.py [--members 1000000] [--repeat 30] [--database home_bench]

Creates a fresh database (dropped first if it exists), migrates it and seeds it with SQL
(generate_series): the members, purchases, scores, preferences, important dates, consents, coupons,
points lots, paid plans and stored value of `bench_segments.py` (its SEED_SQL, reused), then what
the home page reads: 20 stores (each member's home store, each purchase at its member's store),
birthdays, 10% walk-in sales, service records, 200,000 tickets over 400 days (the open ones with
service-level due times, a third assigned to the support user), 100,000 survey answers, 200
campaigns with 1,000,000 outbox messages (10 of them sending or scheduled, with a control group),
30 counted segments, the birthday, important-date and holiday greetings switched on, events today
and the KPI targets of the issue (repurchase +20%, complaints −30%, satisfaction +10%).

Then, in a subprocess in production mode (DJANGO_DEBUG=0), it logs in one user per role (and a
superuser) with Django's test client, clears the cache and requests the index page: the first
request ("cold") computes the figures the page shares for 5 minutes (loyalty_crm.home), then
`--repeat` requests after one more warm-up give the median and 95th percentile, with the number
of SQL queries of each. Writes
benchmarks/results/home.txt. The machine may be shared: the load average is printed.
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
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_segments import SEED_SQL  # the 1M members and what segments read, one script

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "home.txt"
TARGET_MS = 300.0
TARGET_MEMBERS = 1_000_000

HOME_SQL = """
BEGIN;
SELECT setseed(0.19);
INSERT INTO members_store (created_at, updated_at, code, name, city, address, phone, is_active)
SELECT now(), now(), 'bench-' || g, '门店 ' || g, '上海', '', '', true FROM generate_series(1, 20) AS g;
CREATE TEMP TABLE bench_stores AS SELECT row_number() OVER (ORDER BY id) - 1 AS n, id FROM members_store;
UPDATE members_member m SET home_store_id = s.id,
       birth_month = 1 + (m.id * 7 % 12)::int, birth_day = 1 + (m.id * 13 % 28)::int
FROM bench_stores s WHERE s.n = m.id % 20;
UPDATE members_purchase p SET store_id = m.home_store_id FROM members_member m WHERE m.id = p.member_id;
INSERT INTO members_purchase (member_id, external_ref, store_id, channel, payment_method, ordered_at, subtotal,
                              discount_total, total, points_value, refunded_total, created_at)
SELECT NULL, 'WALK-' || g, (SELECT id FROM bench_stores WHERE n = g % 20), 'store', '',
       now() - random() * INTERVAL '400 days', 80, 0, 80, 0, 0, now()
FROM generate_series(1, {walk_ins}) AS g;

INSERT INTO members_servicerecord (created_at, updated_at, member_id, kind, status, store_id, summary, details,
                                   opened_at, summary_code, summary_params)
SELECT now(), now(), m.id, 'delivery', CASE WHEN random() < 0.2 THEN 'open' ELSE 'done' END, m.home_store_id,
       '送花', '', now() - random() * INTERVAL '400 days', 'note', '{{}}'
FROM members_member m WHERE random() < 0.05;

INSERT INTO feedback_ticket (ticket_no, kind, channel, priority, status, message, contact_name, phone, phone_hash,
                             email, member_id, store_id, order_ref, language, created_at, updated_at, contacted_at,
                             priority_reason, first_response_due, resolution_due, first_response_warn_at,
                             resolution_warn_at, first_response_at, resolved_at)
SELECT 'BT' || g, CASE WHEN random() < 0.4 THEN 'complaint' ELSE 'question' END, 'web', 'normal',
       CASE WHEN t.open THEN 'open' ELSE 'closed' END, '花束送到时已经枯萎了。', '', '', '', '',
       NULL, (SELECT id FROM bench_stores WHERE n = g % 20), '', 'zh-hans', t.at, t.at, t.at, '',
       CASE WHEN t.open THEN now() + (random() * 8 - 4) * INTERVAL '1 hour' END,
       CASE WHEN t.open THEN now() + (random() * 48) * INTERVAL '1 hour' END,
       CASE WHEN t.open THEN now() + (random() * 8 - 5) * INTERVAL '1 hour' END,
       CASE WHEN t.open THEN now() + (random() * 48 - 8) * INTERVAL '1 hour' END,
       CASE WHEN NOT t.open THEN t.at + INTERVAL '20 minutes' END,
       CASE WHEN NOT t.open THEN t.at + INTERVAL '1 day' END
FROM (SELECT g, now() - random() * INTERVAL '400 days' AS at, random() < 0.02 AS open
      FROM generate_series(1, {tickets}) AS g) t(g, at, open);

INSERT INTO feedback_surveyresponse (kind, token_id, score, channel, comment, created_at, store_id)
SELECT CASE WHEN g % 2 = 0 THEN 'csat' ELSE 'nps' END, 'bench-' || g,
       CASE WHEN g % 2 = 0 THEN 1 + floor(random() * 5)::int ELSE floor(random() * 11)::int END,
       'sms', '', now() - random() * INTERVAL '400 days', (SELECT id FROM bench_stores WHERE n = g % 20)
FROM generate_series(1, {answers}) AS g;

INSERT INTO campaigns_campaign (created_at, updated_at, name, channel, language, subject, body, control_group_pct,
                                status, repeat, start_at, started_at, completed_at)
SELECT now() - (g || ' days')::interval, now(), '营销活动 ' || g, 'sms', 'zh-hans', '', '{{{{ member.name }}}}您好',
       CASE WHEN g <= 10 THEN 10 ELSE 0 END,
       CASE WHEN g <= 5 THEN 'sending' WHEN g <= 10 THEN 'scheduled' ELSE 'completed' END, 'once',
       CASE WHEN g <= 10 THEN now() + (g - 5) * INTERVAL '1 day' ELSE now() - g * INTERVAL '1 day' END,
       CASE WHEN g <= 5 OR g > 10 THEN now() - g * INTERVAL '1 day' END,
       CASE WHEN g > 10 THEN now() - (g - 1) * INTERVAL '1 day' END
FROM generate_series(1, 200) AS g;
INSERT INTO campaigns_campaignstep (number, created_at, campaign_id) SELECT 1, now(), id FROM campaigns_campaign;
INSERT INTO campaigns_outboxmessage (channel, status, skip_reason, lease_owner, attempts, provider_ref, error,
                                     created_at, updated_at, campaign_id, member_id, step_id, error_code, retries,
                                     sent_at, sending_at)
SELECT 'sms', CASE WHEN o.control THEN 'skipped' WHEN random() < 0.8 THEN 'delivered' ELSE 'sent' END,
       CASE WHEN o.control THEN 'control_group' ELSE '' END, '', 1, '', '', o.at, o.at, s.campaign_id,
       o.member_id, s.id, '', 0, CASE WHEN NOT o.control THEN o.at END, CASE WHEN NOT o.control THEN o.at END
FROM (SELECT 1 + (g % 195) AS k, 1 + (g::bigint * 7919 % {members})::int AS member_id, random() < 0.1 AS control,
             now() - random() * INTERVAL '80 days' AS at
      FROM generate_series(1, {messages}) AS g) o
JOIN (SELECT row_number() OVER (ORDER BY c.id) AS k, st.id, st.campaign_id
      FROM campaigns_campaign c JOIN campaigns_campaignstep st ON st.campaign_id = c.id
      WHERE c.status <> 'scheduled') s ON s.k = o.k
WHERE o.member_id IN (SELECT id FROM members_member);

INSERT INTO campaigns_segment (created_at, updated_at, name, description, rules, size, size_computed_at)
SELECT now(), now(), '分群 ' || g, '', '{{}}', floor(random() * {members})::int, now() - INTERVAL '3 hours'
FROM generate_series(1, 30) AS g;
COMMIT;
-- The store and walk-in updates above leave a dead copy of every purchase: a live database's
-- autovacuum would have cleaned it (and set the visibility map) long before anyone reads it.
VACUUM ANALYZE;
"""

CHILD = r"""
import datetime, json, statistics, sys, time
import django
django.setup()
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.core.cache import cache
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns.models import Automation, Campaign, CampaignKpiTarget, Event
from feedback.models import KpiTarget, Ticket
from loyalty_crm.roles import MANAGER, MARKETING, STORE_STAFF, SUPPORT
from members.models import Store, StaffProfile

repeat = int(sys.argv[1])
users = {}
for role, name in ((STORE_STAFF, "store_staff"), (SUPPORT, "support"), (MARKETING, "marketing"), (MANAGER, "manager")):
    user, _ = User.objects.get_or_create(username=f"bench-{name}", defaults={"is_staff": True})
    user.groups.add(Group.objects.get(name=role))
    users[name] = user
users["superuser"], _ = User.objects.get_or_create(
    username="bench-root", defaults={"is_staff": True, "is_superuser": True}
)
StaffProfile.objects.get_or_create(user=users["store_staff"], defaults={"store": Store.objects.order_by("pk").first()})
open_ids = list(Ticket.objects.not_done().values_list("pk", flat=True))
Ticket.objects.filter(pk__in=open_ids[::3]).update(assignee=users["support"])
for kind in ("birthday", "important_date"):
    automation = Automation.objects.get(kind=kind)
    automation.campaign = automation.campaign or Campaign.objects.create(
        name=f"greeting {kind}", channel="sms", body="x", status="sending"
    )
    automation.enabled, automation.days_before = True, 7
    automation.save()
for automation in Automation.objects.filter(kind="holiday")[:6]:
    automation.campaign = automation.campaign or Campaign.objects.create(
        name=f"greeting {automation.holiday}", channel="sms", body="x", status="sending"
    )
    automation.enabled = True
    automation.save()
now = timezone.now()
for i in range(3 - Event.objects.filter(title__startswith="插花课").count()):
    Event.objects.create(title=f"插花课 {i}", store=StaffProfile.objects.get(user=users["store_staff"]).store,
                         starts_at=now + datetime.timedelta(minutes=30 * i + 5),
                         ends_at=now + datetime.timedelta(minutes=30 * i + 95), capacity=20)
baseline = (timezone.localdate().replace(day=1) - datetime.timedelta(days=150)).replace(day=1)
KpiTarget.objects.get_or_create(metric="complaint_rate", store=None,
                                defaults={"baseline_month": baseline, "change_percent": -30})
KpiTarget.objects.get_or_create(metric="csat", store=None, defaults={"baseline_month": baseline, "change_percent": 10})
CampaignKpiTarget.objects.get_or_create(metric="repurchase_rate", baseline_month=baseline,
                                        defaults={"change_percent": 20, "months": 6})

rows = []
for name, user in users.items():
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    times = []
    cache.clear()  # the first request computes the shared figures (loyalty_crm.home.cached_figures)
    cold = None
    for i in range(repeat + 2):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = client.get("/admin/")
            elapsed = (time.perf_counter() - start) * 1000
        assert response.status_code == 200, (name, response.status_code)
        if i == 0:
            cold, cold_queries = elapsed, len(queries)
        if i >= 2:  # two warm-up requests
            times.append(elapsed)
    times.sort()
    slowest = sorted(queries.captured_queries, key=lambda q: -float(q["time"]))[:3]
    rows.append({"role": name, "cold": cold, "cold_queries": cold_queries, "median": statistics.median(times),
                 "p95": times[max(0, int(len(times) * 0.95) - 1)],
                 "queries": len(queries), "slowest": [(q["time"], q["sql"][:120]) for q in slowest]})
# The beat task (loyalty_crm.tasks.refresh_home_figures) recomputes every shared figure before it
# expires: how long it takes, and each role's first request after it (no figure computed).
from loyalty_crm.tasks import refresh_home_figures
cache.clear()
start = time.perf_counter()
stored = refresh_home_figures()
refresh = {"ms": (time.perf_counter() - start) * 1000, "figures": stored, "after": {}}
for name, user in users.items():
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    client.get("/admin/")  # the session and the process-wide caches, as the warm requests had them
with_refresh = refresh["after"]
cache.clear()
refresh_home_figures()
for name, user in users.items():
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        client.get("/admin/")
        with_refresh[name] = ((time.perf_counter() - start) * 1000, len(queries))
print(json.dumps({"rows": rows, "refresh": refresh}))
"""


def sh(*args: str, env: dict | None = None, stdin: str | None = None) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, cwd=ROOT, input=stdin)
    if done.returncode:
        sys.exit(f"{args[0]} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=TARGET_MEMBERS)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--database", default="home_bench")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="measure an existing --keep database again")
    args = parser.parse_args()

    pg = ["-h", args.host, "-U", args.user]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{args.user}@{args.host}:5432/{args.database}",
        "DJANGO_DEBUG": "0",
        "SMS_PROVIDER": "log",
        "DJANGO_SECRET_KEY": "benchmark-only-" + base64.urlsafe_b64encode(os.urandom(48)).decode(),
        "FIELD_ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "LOG_LEVEL": "WARNING",
        "DJANGO_SECURE_SSL_REDIRECT": "0",  # the test client speaks plain HTTP
        "DJANGO_ALLOWED_HOSTS": "localhost",
        "LOYALTY_VAR_DIR": str(Path(tempfile.gettempdir()) / "loyalty-bench-home-var"),
        "DJANGO_SETTINGS_MODULE": "loyalty_crm.settings",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("REDIS_URL", None)  # the process's local memory cache: nothing cached between runs
    psql = ["psql", *pg, "-d", args.database, "-v", "ON_ERROR_STOP=1", "-q"]
    seeded = 0.0
    if not args.reuse:
        sh("dropdb", *pg, "--if-exists", args.database)
        sh("createdb", *pg, args.database)
    sh(sys.executable, "manage.py", "migrate", "--no-input", "-v", "0", env=env)  # a kept database: new indexes
    if not args.reuse:
        started = time.perf_counter()
        sh(*psql, stdin=SEED_SQL.format(members=args.members))
        sh(
            *psql,
            stdin=HOME_SQL.format(
                members=args.members,
                walk_ins=args.members // 3,
                tickets=max(1000, args.members // 5),
                answers=max(1000, args.members // 10),
                messages=args.members,
            ),
        )
        seeded = time.perf_counter() - started
    sh(sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0", env=env)  # production serves hashed files
    pg_version = sh(*psql, "-tAc", "SHOW server_version")
    purchases = int(sh(*psql, "-tAc", "SELECT count(*) FROM members_purchase"))
    print(f"Seeded {args.members:,} members, {purchases:,} purchases in {seeded:.0f}s", flush=True)

    load = os.getloadavg()
    measured = json.loads(sh(sys.executable, "-c", CHILD, str(args.repeat), env=env).splitlines()[-1])
    rows, refresh = measured["rows"], measured["refresh"]
    if not args.keep:
        sh("dropdb", *pg, "--if-exists", args.database)
    ok = all(row["median"] < TARGET_MS for row in rows)
    lines = [
        "home page benchmark (benchmarks/bench_home.py)",
        f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"machine: {sh('uname', '-m')}, nproc {sh('nproc')}, Python {platform.python_version()}",
        f"PostgreSQL: {pg_version}",
        f"data: {args.members:,} members, {purchases:,} purchases over 400 days, DJANGO_DEBUG=0, "
        f"{args.repeat} requests per role after 2 warm-ups, load average before "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (a shared machine)",
        "cold = the first request after the cache is cleared (computes the shared figures, cached 5 minutes);",
        "median and p95 over the following requests (figures from the cache, lists read live)",
        f"{'role':<14}{'cold ms':>10}{'cold q':>8}{'median ms':>11}{'p95 ms':>10}{'queries':>9}",
        *(
            f"{r['role']:<14}{r['cold']:>10.1f}{r['cold_queries']:>8}{r['median']:>11.1f}{r['p95']:>10.1f}"
            f"{r['queries']:>9}"
            for r in rows
        ),
        f"target: median under {TARGET_MS:.0f} ms for every role: {'OK' if ok else 'NOT MET'}",
        f"refresh task (loyalty_crm.refresh_home_figures, every 4 minutes): {refresh['ms']:.0f} ms for "
        f"{refresh['figures']} shared figures; the first request of each role after it (ms, queries): "
        + ", ".join(f"{name} {ms:.0f} ({q})" for name, (ms, q) in refresh["after"].items()),
        "slowest queries of the last request per role (seconds, SQL start):",
        *(f"  {r['role']}: {t} {sql}" for r in rows for t, sql in r["slowest"]),
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    print(f"Written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
