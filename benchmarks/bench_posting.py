"""Benchmark: purchase posting through the API under gunicorn vs PostgreSQL alone (target ≥ 10%).

Run by hand (not by pytest), from the project root:

    .venv/bin/python benchmarks/bench_posting.py [--seconds 20] [--clients 8] [--workers 4]  (or: make bench-posting)

One run, side by side, on a fresh PostgreSQL database (`imports_bench`, dropped first):

1. API: `gunicorn loyalty_crm.wsgi` (sync workers, production mode, persistent database
   connections) serves `POST /api/v1/purchases/`; `--clients` client processes post for
   `--seconds` with a store-staff user's token, each request a fresh `external_ref`, a random
   one of 2,000 members, one to three lines of the shop's catalogue. Postings/s and latency
   percentiles are measured by the clients (every answer must be 201).
2. PostgreSQL alone: `pgbench` with the same number of clients for the same time, running a
   custom script of the same writes a posting does at its core — one transaction inserting a
   purchase row and a ledger row and updating an account row — on scratch tables made
   `LIKE` the real ones (same columns, defaults, indexes, constraints).

3. The framework's floor: the same gunicorn and clients on `GET /api/v1/tiers/` (token
   authentication, permissions, one small query, no writes) — what no posting can beat.

For each gunicorn run it also reads, from /proc, the CPU time the gunicorn processes, all
PostgreSQL processes and the clients spent per request: on a machine where the CPUs are the
limit, cores ÷ (CPU per request) is the most requests per second there can be.

It prints the rates and their ratio, and profiles one posting (its SQL queries counted, and a
pyinstrument profile when installed). Figures go to benchmarks/results/posting.txt.
The load generator runs on the same machine as the server and the database, as does pgbench.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import multiprocessing
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from purchase_fixtures import CATALOGUE, ROOT, fresh_database, machine, production_env, setup_django, sh

RESULTS = ROOT / "benchmarks" / "results" / "posting.txt"
TARGET = 0.10
MEMBERS = 2_000

PGBENCH_SCRIPT = """\\set member random(1, :members)
\\set cents random(1000, 99999)
BEGIN;
INSERT INTO bench_purchase (member_id, external_ref, store_id, channel, payment_method, ordered_at, subtotal,
  discount_total, total, refunded_total, created_at)
  VALUES (:member, gen_random_uuid()::text, 1, 'store', '', now(), :cents / 100.0, 0, :cents / 100.0, 0, now())
  RETURNING id AS purchase_id \\gset
INSERT INTO bench_ledger (account_id, member_id, kind, points, balance_after, purchase_id, reason_code, reason_params,
  reason, actor_id, created_at)
  VALUES (:member, :member, 'earn', :cents / 100, 0, :purchase_id, 'purchase', jsonb_build_object('ref', 'POS'), '',
  NULL, now());
UPDATE bench_account SET balance = balance + :cents / 100, lifetime_earned = lifetime_earned + :cents / 100,
  lifetime_spend = lifetime_spend + :cents / 100.0, updated_at = now() WHERE member_id = :member;
END;
"""


def child_seed() -> None:
    """In a subprocess: members with accounts, a store-staff user and its token; prints JSON."""
    setup_django()
    from django.contrib.auth.models import Group, User
    from rest_framework.authtoken.models import Token

    from loyalty_crm.roles import STORE_STAFF

    numbers = seed_members_with_accounts()
    user = User.objects.create_user("bench-staff", password="unused-" + os.urandom(8).hex())
    user.groups.add(Group.objects.get(name=STORE_STAFF))
    token = Token.objects.create(user=user)
    print(json.dumps({"members": numbers, "token": token.key}))


def seed_members_with_accounts() -> list[str]:
    from purchase_fixtures import seed_members

    return seed_members(MEMBERS, with_accounts=True)


def child_profile(member_no: str, token: str) -> None:
    """In a subprocess: one posting through Django's test client, its queries and a profile."""
    setup_django()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="127.0.0.1")

    def post(ref):
        return client.post(
            "/api/v1/purchases/", body(member_no, ref, random.Random(1)), content_type="application/json"
        )

    post("PROFILE-WARM-UP")
    with CaptureQueriesContext(connection) as queries:
        response = post("PROFILE-1")
    assert response.status_code == 201, response.content
    report = {"queries": len(queries), "statements": [q["sql"][:120] for q in queries.captured_queries]}
    try:
        from pyinstrument import Profiler
    except ImportError:
        report["profile"] = "(pyinstrument not installed)"
    else:
        profiler = Profiler(interval=0.0005)
        with profiler:
            for n in range(50):
                post(f"PROFILE-RUN-{n}")
        report["profile"] = profiler.output_text(unicode=True, color=False, show_all=False)
    print(json.dumps(report))


def body(member_no: str, ref: str, rng: random.Random) -> str:
    items = [
        {"sku": sku, "quantity": rng.choice((1, 1, 1, 2)), "unit_price": price}
        for sku, _name, _code, _cat, price in rng.sample(CATALOGUE, rng.choice((1, 1, 2, 3)))
    ]
    return json.dumps(
        {
            "member": member_no,
            "external_ref": ref,
            "ordered_at": datetime.datetime.now(datetime.UTC).isoformat(),
            "store": "sh-001",
            "items": items,
        }
    )


def client_loop(args: tuple) -> dict:
    """One client process: post until the deadline; returns its latencies and failures."""
    index, port, token, members, deadline, *rest = args
    floor = bool(rest and rest[0])  # GET /api/v1/tiers/ instead: the framework's own cost
    rng = random.Random(index)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    latencies, failures, n, ok = [], [], 0, 0
    while time.time() < deadline:
        n += 1
        payload = None if floor else body(rng.choice(members), f"BENCH-{index}-{n}-{deadline}", rng)
        started = time.perf_counter()
        try:
            if floor:
                connection.request("GET", "/api/v1/tiers/", headers=headers)
            else:
                connection.request("POST", "/api/v1/purchases/", payload, headers)
            response = connection.getresponse()
            text = response.read()
        except (OSError, http.client.HTTPException) as exc:
            failures.append(repr(exc))
            connection.close()
            continue
        latencies.append(time.perf_counter() - started)
        if response.status == (200 if floor else 201):
            ok += 1
        else:
            failures.append(f"{response.status} {text[:200]!r}")
    return {"latencies": latencies, "failures": failures, "ok": ok}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, seconds: float = 30) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used (Linux /proc), 0 for those gone."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def pids_of(pattern: str) -> list[int]:
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def run_api(env, token, members, *, clients: int, seconds: int, workers: int, floor: bool = False) -> dict:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "loyalty_crm.wsgi",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**env, "DJANGO_CONN_MAX_AGE": "600"},
        start_new_session=True,
    )
    try:
        wait_for(port)
        # Warm up every worker (imports, connections, caches) outside the measured time.
        client_loop((999, port, token, members, time.time() + 3, floor))
        server_pids, postgres_pids = pids_of(f"gunicorn.*127.0.0.1:{port}"), pids_of("postgres")
        server_cpu, postgres_cpu, own = cpu_seconds(server_pids), cpu_seconds(postgres_pids), os.times()
        deadline = time.time() + seconds
        started = time.time()
        with multiprocessing.Pool(clients) as pool:
            parts = pool.map(client_loop, [(i, port, token, members, deadline, floor) for i in range(clients)])
        elapsed = time.time() - started
        server_cpu = cpu_seconds(server_pids) - server_cpu
        postgres_cpu = cpu_seconds(postgres_pids) - postgres_cpu
        after = os.times()
        client_cpu = (after.children_user + after.children_system) - (own.children_user + own.children_system)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    latencies = [value for part in parts for value in part["latencies"]]
    failures = [value for part in parts for value in part["failures"]]
    ok = sum(part["ok"] for part in parts)
    return {
        "cpu_ms": {  # CPU time per successful request, by who spent it
            "gunicorn": server_cpu / max(ok, 1) * 1000,
            "postgres": postgres_cpu / max(ok, 1) * 1000,
            "clients": client_cpu / max(ok, 1) * 1000,
        },
        "requests": len(latencies),
        "failures": failures,
        "rate": ok / elapsed,
        "p50": percentile(latencies, 50) * 1000,
        "p95": percentile(latencies, 95) * 1000,
        "p99": percentile(latencies, 99) * 1000,
        "mean": statistics.fmean(latencies) * 1000,
    }


def run_pgbench(database: str, *, clients: int, seconds: int) -> dict:
    pg = ["-h", "127.0.0.1", "-U", "postgres"]
    setup = """
        DROP TABLE IF EXISTS bench_purchase, bench_ledger, bench_account;
        CREATE TABLE bench_purchase (LIKE members_purchase INCLUDING ALL);
        CREATE TABLE bench_ledger (LIKE rewards_ledgerentry INCLUDING ALL);
        CREATE TABLE bench_account (LIKE rewards_pointsaccount INCLUDING ALL);
        INSERT INTO bench_account SELECT * FROM rewards_pointsaccount;
    """
    sh("psql", *pg, "-d", database, "-q", "-v", "ON_ERROR_STOP=1", "-c", setup)
    sh("psql", *pg, "-d", database, "-q", "-c", "VACUUM ANALYZE bench_account")
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(PGBENCH_SCRIPT)
    try:
        out = sh(
            "pgbench", *pg, "-n", "-c", str(clients), "-j", str(min(clients, os.cpu_count() or 1)),
            "-T", str(seconds), "-D", f"members={MEMBERS}", "-f", script.name, database,
        )  # fmt: skip
    finally:
        os.unlink(script.name)
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    latency = re.search(r"latency average = ([\d.]+) ms", out)
    rows = sh("psql", *pg, "-d", database, "-tAc", "SELECT count(*) FROM bench_purchase")
    failed = re.search(r"number of failed transactions: (\d+)", out)
    return {
        "rate": tps,
        "latency": float(latency.group(1)) if latency else None,
        "rows": int(rows),
        "failed": int(failed.group(1)) if failed else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--database", default="imports_bench")
    parser.add_argument("--child", choices=["seed", "profile"], help=argparse.SUPPRESS)
    parser.add_argument("--member", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "seed":
        child_seed()
        return
    if args.child == "profile":
        child_profile(args.member, args.token)
        return
    env = production_env(args.database)
    description = machine()
    pg_version = fresh_database(args.database, env)
    seeded = json.loads(sh(sys.executable, __file__, "--child", "seed", env=env).splitlines()[-1])
    members, token = seeded["members"], seeded["token"]
    print(f"{len(members):,} members with accounts; gunicorn {args.workers} workers; {args.clients} clients")

    profile = json.loads(
        sh(
            sys.executable,
            __file__,
            "--child",
            "profile",
            "--member",
            members[0],
            "--token",
            token,
            env={**env, "DJANGO_CONN_MAX_AGE": "600"},  # as gunicorn runs: one connection, not one per request
        ).splitlines()[-1]
    )
    print(f"one posting: {profile['queries']} SQL queries (Django test client, production settings)")

    api = run_api(env, token, members, clients=args.clients, seconds=args.seconds, workers=args.workers)
    print(
        f"API (gunicorn): {api['rate']:,.1f} postings/s over {args.seconds}s; latency p50 {api['p50']:.1f} ms, "
        f"p95 {api['p95']:.1f} ms, p99 {api['p99']:.1f} ms; {len(api['failures'])} failures"
    )
    floor = run_api(env, token, members, clients=args.clients, seconds=args.seconds, workers=args.workers, floor=True)
    print(f"framework floor (GET /api/v1/tiers/: token, permissions, one query): {floor['rate']:,.1f} requests/s")
    raw = run_pgbench(args.database, clients=args.clients, seconds=args.seconds)
    print(f"PostgreSQL alone (pgbench): {raw['rate']:,.1f} transactions/s; latency average {raw['latency']} ms")
    ratio = api["rate"] / raw["rate"]
    verdict = "OK" if ratio >= TARGET else "BELOW TARGET"
    print(f"ratio: {ratio:.1%} of the raw rate ({verdict}, target ≥ {TARGET:.0%})")

    lines = [
        "Purchase posting benchmark (benchmarks/bench_posting.py)",
        f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"machine: {description}; PostgreSQL {pg_version}",
        f"setup: {len(members):,} members with accounts; gunicorn loyalty_crm.wsgi, {args.workers} sync workers, "
        f"production mode, persistent connections; {args.clients} client processes on the same machine, "
        f"{args.seconds} s each side",
        "",
        f"API  POST /api/v1/purchases/: {api['rate']:,.1f} postings/s ({api['requests']:,} requests, "
        f"{len(api['failures'])} failures)",
        f"     latency p50 {api['p50']:.1f} ms, p95 {api['p95']:.1f} ms, p99 {api['p99']:.1f} ms, "
        f"mean {api['mean']:.1f} ms",
        f"pgbench (insert purchase + insert ledger row + update account, one transaction): "
        f"{raw['rate']:,.1f} tps ({raw['rows']:,} purchases, {raw['failed']} failed), "
        f"latency average {raw['latency']} ms",
        f"ratio API / PostgreSQL alone: {ratio:.1%} ({verdict}, target ≥ {TARGET:.0%})",
        "",
        "where the CPU goes (per request; user + system time from /proc, all PostgreSQL processes):",
        *(
            f"  {label}: "
            + ", ".join(f"{who} {ms:.2f} ms" for who, ms in run["cpu_ms"].items())
            + f" = {sum(run['cpu_ms'].values()):.2f} ms on {os.cpu_count()} cores"
            + f" -> at most {os.cpu_count() / sum(run['cpu_ms'].values()) * 1000:,.0f}/s"
            for label, run in (("POST /api/v1/purchases/", api), ("GET /api/v1/tiers/ (floor)", floor))
        ),
        f"framework floor: GET /api/v1/tiers/ (token auth, permissions, one query, no writes): "
        f"{floor['rate']:,.1f} requests/s = {floor['rate'] / raw['rate']:.1%} of pgbench's rate",
        f"  (10% of pgbench is {TARGET * raw['rate']:,.1f}/s; {TARGET * raw['rate'] / floor['rate']:.2f}× the floor)",
        "",
        f"one posting: {profile['queries']} SQL queries:",
        *(f"  {statement}" for statement in profile["statements"]),
        "",
        "profile of 50 postings (pyinstrument, Django test client, production settings, persistent connection):",
        profile["profile"],
    ]
    if api["failures"]:
        lines += ["", "first failures:", *api["failures"][:5]]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    sh("dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", args.database)


if __name__ == "__main__":
    main()
