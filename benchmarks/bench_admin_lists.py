"""Benchmark: the staff's daily pages with 100,000 members on PostgreSQL.

Run by hand (not by pytest), from the project root:

    .venv/bin/python benchmarks/bench_admin_lists.py [--members 100000] [--repeat 20]

It creates a fresh database (`loyalty_bench_admin` on 127.0.0.1 as user postgres), migrates it,
imports `--members` generated members with `import_members` (the CSV generator of
bench_import_members.py), adds one purchase to a sample member, then — in a subprocess in
production mode — requests each page `--repeat` times through Django's test client as a Manager
and prints the median and 95th-percentile time and the number of SQL queries per request.
The figures go to stdout and to benchmarks/results/admin_lists.txt.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import_members import generate

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "admin_lists.txt"
DB = "loyalty_bench_admin"

MEASURE = r"""
import statistics, time, json, sys
import django
django.setup()
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from members.models import Member
from members import services
from loyalty_crm.roles import MANAGER

repeat = int(sys.argv[1])
user, _ = User.objects.get_or_create(username="bench-manager", defaults={"is_staff": True})
user.groups.add(Group.objects.get(name=MANAGER))
token, _ = Token.objects.get_or_create(user=user)
sample = Member.objects.order_by("id")[5000]
if not sample.purchases.exists():
    services.record_purchase(member=sample, external_ref="BENCH-1", ordered_at=sample.registered_at,
                             items=[services.PurchaseLine(sku="ROSE-11", quantity=2, unit_price="199.00")])
admin = Client(HTTP_HOST="localhost")
admin.force_login(user)
api = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Token {token.key}")
pages = [
    ("admin member list, page 1", admin, "/admin/members/member/"),
    ("admin member list, page 200", admin, "/admin/members/member/?p=200"),
    ("admin search by phone (hash)", admin, "/admin/members/member/?q=" + sample.phone.replace("+", "%2B")),
    ("admin search by name fragment", admin, "/admin/members/member/?q=" + sample.name[:2]),
    ("admin member 360 page", admin, f"/admin/members/member/{sample.pk}/change/"),
    ("API member list, page 1", api, "/api/v1/members/"),
    ("API lookup ?phone=", api, "/api/v1/members/?phone=" + sample.phone.replace("+", "%2B")),
    ("API member detail", api, f"/api/v1/members/{sample.member_no}/"),
]
rows = []
for label, client, url in pages:
    times = []
    for i in range(repeat + 2):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = client.get(url)
            elapsed = (time.perf_counter() - start) * 1000
        assert response.status_code == 200, (url, response.status_code)
        if i >= 2:  # two warm-up requests
            times.append(elapsed)
    times.sort()
    rows.append((label, statistics.median(times), times[int(len(times) * 0.95) - 1], len(queries)))
print(json.dumps(rows))
"""


def run(cmd: list[str], env: dict | None = None) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    if done.returncode:
        sys.exit(f"{' '.join(cmd[:3])} … failed:\n{done.stderr[-3000:]}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="reuse the database of the last run")
    args = parser.parse_args()

    if not args.keep:
        drop, create = f"DROP DATABASE IF EXISTS {DB}", f"CREATE DATABASE {DB}"
        run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", drop, "-c", create])
    env = os.environ | {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
        "DJANGO_DEBUG": "0",
        "SMS_PROVIDER": "log",  # production mode needs it said; nothing is sent here
        "DJANGO_SECRET_KEY": "bench-" + "x" * 60,
        "FIELD_ENCRYPTION_KEY": "YmVuY2htYXJrLWtleS1iZW5jaG1hcmsta2V5LTMyYiE=",
        "DJANGO_ALLOWED_HOSTS": "localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "0",  # the test client speaks plain HTTP
        "LOYALTY_VAR_DIR": str(Path(tempfile.gettempdir()) / "loyalty-bench-admin-var"),
        "DJANGO_SETTINGS_MODULE": "loyalty_crm.settings",
    }
    python = sys.executable
    if not args.keep:
        run([python, "manage.py", "migrate", "--no-input"], env)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "members.csv"
            generate(path, args.members)
            print(f"importing {args.members:,} members …", flush=True)
            run([python, "manage.py", "import_members", str(path)], env)
    run([python, "manage.py", "collectstatic", "--no-input"], env)  # production mode serves hashed files
    run([python, "manage.py", "shell", "-c", "from demo.members import ensure_catalogue; ensure_catalogue()"], env)
    output = run([python, "-c", MEASURE, str(args.repeat)], env)
    rows = __import__("json").loads(output.strip().splitlines()[-1])
    pg = run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "SELECT version()"]).split(",")[0]
    lines = [
        "admin and API list pages (benchmarks/bench_admin_lists.py)",
        f"date: {datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')}",
        f"machine: {platform.machine()}, nproc {os.cpu_count()}, Python {platform.python_version()}",
        f"database: {pg}; members: {args.members:,}; {args.repeat} requests per page (test client, no network)",
        f"{'page':34} {'median ms':>10} {'p95 ms':>8} {'queries':>8}",
    ]
    lines += [f"{label:34} {median:10.1f} {p95:8.1f} {queries:8d}" for label, median, p95, queries in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
