"""Benchmark: purchase posting against Django + DRF's floor and against PostgreSQL alone (issue 20).

Run by hand (not by pytest), from the project root:

    .venv/bin/python benchmarks/bench_posting.py [--seconds 20] [--clients 8]  (or: make bench-posting)

Issue 20's targets, each measured side by side in this one run and printed as a ratio:
app CPU per posting ≤ 2.5 × the DRF floor's (`GET /bench/floor/`: a minimal DRF view inside the
project — token auth, one query — served only by this benchmark's URLconf, bench_urls.py);
PostgreSQL CPU per posting ≤ 3 × a pgbench transaction doing the same writes (CPU of the backends
serving the benchmark only, from /proc); postings/s ≥ 10% of pgbench's rate; a replayed posting
(same `external_ref`) ≥ 3× cheaper in app CPU than a new one; the batch endpoint
(`POST /api/v1/purchases/batch/`) ≥ 30% of pgbench's batched rate for the same rows.
gunicorn runs with the repository's gunicorn.conf.py (3 processes × 3 threads) unless `--workers`.
The cache is Redis when REDIS_URL is set (as in production; the results' setup line says which).
For a quick loop without HTTP or a load generator — the app's and its PostgreSQL backend's CPU per
request, or a cProfile of one mode — see benchmarks/profile_posting.py.

What it did before issue 20, kept:

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
  discount_total, total, points_value, refunded_total, created_at)
  VALUES (:member, gen_random_uuid()::text, 1, 'store', '', now(), :cents / 100.0, 0, :cents / 100.0, 0, 0, now())
  RETURNING id AS purchase_id \\gset
INSERT INTO bench_ledger (account_id, member_id, kind, points, balance_after, purchase_id, reason_code, reason_params,
  reason, actor_id, created_at)
  VALUES (:member, :member, 'earn', :cents / 100, 0, :purchase_id, 'purchase', jsonb_build_object('ref', 'POS'), '',
  NULL, now());
UPDATE bench_account SET balance = balance + :cents / 100, lifetime_earned = lifetime_earned + :cents / 100,
  lifetime_spend = lifetime_spend + :cents / 100.0, updated_at = now() WHERE member_id = :member;
END;
"""

# Context, not a target's yardstick: every row a posting writes (purchase, two lines — the stream's
# average —, ledger row, lot, posting; the account updated) on the same kind of scratch tables.
PGBENCH_FULL_SCRIPT = """\\set member random(1, :members)
\\set cents random(1000, 99999)
BEGIN;
INSERT INTO bench_purchase (member_id, external_ref, store_id, channel, payment_method, ordered_at, subtotal,
  discount_total, total, points_value, refunded_total, created_at)
  VALUES (:member, gen_random_uuid()::text, 1, 'store', '', now(), :cents / 100.0, 0, :cents / 100.0, 0, 0, now())
  RETURNING id AS purchase_id \\gset
INSERT INTO bench_item (purchase_id, sku, name, quantity, unit_price, discount, line_total, category_id, product_id,
  returned_quantity)
  VALUES (:purchase_id, 'ROSE-RED', 'Red roses', 1, :cents / 200.0, 0, :cents / 200.0, 1, 1, 0),
         (:purchase_id, 'VASE-GLASS', 'Glass vase', 1, :cents / 200.0, 0, :cents / 200.0, 1, 2, 0);
INSERT INTO bench_ledger (account_id, member_id, kind, points, balance_after, purchase_id, reason_code, reason_params,
  reason, actor_id, created_at)
  VALUES (:member, :member, 'earn', :cents / 100, 0, :purchase_id, 'purchase', jsonb_build_object('ref', 'POS'), '',
  NULL, now()) RETURNING id AS entry_id \\gset
INSERT INTO bench_lot (points, remaining, expired, expires_on, account_id, entry_id)
  VALUES (:cents / 100, :cents / 100, 0, current_date + 365, :member, :entry_id);
INSERT INTO bench_posting (fingerprint, points_earned, points_balance, tier_changed, points_reversed, created_at,
  purchase_id, tier_id, coupon_id, coupon_discount, lots_taken, points_returned, points_used, points_value,
  tier_before_id, tier_discount, stored_value_balance, stored_value_bonus, stored_value_paid, stored_value_returned)
  VALUES (md5(:purchase_id::text), :cents / 100, 0, false, 0, now(), :purchase_id, 1, NULL, 0, '[]', 0, 0, 0, 1, 0,
  0, 0, 0, 0);
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


def body(member_no: str, ref: str, rng: random.Random, *, encode: bool = True):
    items = [
        {"sku": sku, "quantity": rng.choice((1, 1, 1, 2)), "unit_price": price}
        for sku, _name, _code, _cat, price in rng.sample(CATALOGUE, rng.choice((1, 1, 2, 3)))
    ]
    data = {
        "member": member_no,
        "external_ref": ref,
        "ordered_at": datetime.datetime.now(datetime.UTC).isoformat(),
        "store": "sh-001",
        "items": items,
    }
    return json.dumps(data) if encode else data


REPLAY_REFS = 20  # per client: posted once in the warm-up, then replayed for the measured time
REPLAY_AT = "2026-01-10T10:00:00+08:00"


def replay_body(members: list[str], index: int, k: int) -> str:
    rng = random.Random(index * 1000 + k)
    data = body(rng.choice(members), f"REPLAY-{index}-{k}", rng, encode=False)
    data["ordered_at"] = REPLAY_AT  # the same body every time: a retry, answered 200
    return json.dumps(data)


def client_loop(args: tuple) -> dict:
    """One client process: request until the deadline; returns its latencies, failures and the
    number of items done (purchases posted, or requests answered as expected)."""
    index, port, token, members, deadline, mode, batch_size = args
    rng = random.Random(index)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    latencies, failures, n, ok = [], [], 0, 0
    if mode == "replay-seed":  # post every client's replay references once (not measured)
        for client in range(index):
            for k in range(REPLAY_REFS):
                connection.request("POST", "/api/v1/purchases/", replay_body(members, client, k), headers)
                connection.getresponse().read()
        return {"latencies": [], "failures": [], "ok": 0}
    while time.time() < deadline:
        n += 1
        try:
            started = time.perf_counter()
            if mode == "floor":
                connection.request("GET", "/bench/floor/", headers=headers)
            elif mode == "replay":
                connection.request("POST", "/api/v1/purchases/", replay_body(members, index, n % REPLAY_REFS), headers)
            elif mode == "batch":
                payload = json.dumps(
                    [
                        body(rng.choice(members), f"BATCH-{index}-{n}-{i}-{deadline}", rng, encode=False)
                        for i in range(batch_size)
                    ]
                )
                connection.request("POST", "/api/v1/purchases/batch/", payload, headers)
            else:
                payload = body(rng.choice(members), f"BENCH-{index}-{n}-{deadline}", rng)
                connection.request("POST", "/api/v1/purchases/", payload, headers)
            response = connection.getresponse()
            text = response.read()
        except (OSError, http.client.HTTPException) as exc:
            failures.append(repr(exc))
            connection.close()
            continue
        latencies.append(time.perf_counter() - started)
        expected = {"floor": 200, "replay": 200, "batch": 200}.get(mode, 201)
        if response.status != expected:
            failures.append(f"{response.status} {text[:200]!r}")
        elif mode == "batch":
            answer = json.loads(text)
            ok += answer["created"]
            if answer["refused"]:
                failures.append(f"{answer['refused']} refused in a batch")
        else:
            ok += 1
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


def serving_backends(database: str) -> list[int]:
    """The PostgreSQL backends connected to the benchmark's database (gunicorn's persistent
    connections, or pgbench's), not the rest of the machine's postgres processes."""
    out = sh(
        "psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-tAc",
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
    )  # fmt: skip
    return [int(pid) for pid in out.split()]


def run_api(env, token, members, *, database, clients, seconds, workers=None, mode="post", batch_size=500) -> dict:
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "loyalty_crm.wsgi", "--bind", f"127.0.0.1:{port}"]
    command += ["--log-level", "warning"] + (["--workers", str(workers), "--threads", "1"] if workers else [])
    # No worker recycling while measuring: gunicorn.conf.py's max_requests replaces a worker after
    # about 5,000 requests, and a replaced worker's CPU (and its new database backends) would leave
    # the count — the floor's mode passes that many in 20 s (a negative CPU figure was seen).
    command += ["--max-requests", "0"]
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        env={
            **env,
            "DJANGO_CONN_MAX_AGE": "600",
            "DJANGO_SETTINGS_MODULE": "bench_settings",
            "PYTHONPATH": str(ROOT / "benchmarks"),
        },
        start_new_session=True,
    )
    try:
        wait_for(port)
        # Warm up every worker and thread (imports, connections, caches) outside the measured time.
        warm = time.time() + 3
        with multiprocessing.Pool(clients) as pool:
            pool.map(client_loop, [(900 + i, port, token, members, warm, mode, 5) for i in range(clients)])
        if mode == "replay":
            client_loop((clients, port, token, members, 0, "replay-seed", 0))
        server_pids = pids_of(f"gunicorn.*127.0.0.1:{port}")
        backends = serving_backends(database)
        server_cpu, own = cpu_seconds(server_pids), os.times()
        backend_cpu = {pid: cpu_seconds([pid]) for pid in backends}
        deadline = time.time() + seconds
        started = time.time()
        with multiprocessing.Pool(clients) as pool:
            parts = pool.map(
                client_loop, [(i, port, token, members, deadline, mode, batch_size) for i in range(clients)]
            )
        elapsed = time.time() - started
        server_cpu = cpu_seconds(server_pids) - server_cpu
        if sorted(pids_of(f"gunicorn.*127.0.0.1:{port}")) != sorted(server_pids):
            raise RuntimeError("a gunicorn worker was replaced during the run: its CPU left the count")
        backends_now = serving_backends(database)  # any opened meanwhile count from 0
        postgres_cpu = sum(cpu_seconds([pid]) - backend_cpu.get(pid, 0) for pid in set(backends) | set(backends_now))
        after = os.times()
        client_cpu = (after.children_user + after.children_system) - (own.children_user + own.children_system)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    latencies = [value for part in parts for value in part["latencies"]]
    failures = [value for part in parts for value in part["failures"]]
    ok = sum(part["ok"] for part in parts)
    return {
        "cpu_ms": {  # CPU time per item (posting or request), by who spent it
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


PGBENCH_BATCH_SCRIPT = """\\set member random(1, :members - :batch)
BEGIN;
WITH p AS (
  INSERT INTO bench_purchase (member_id, external_ref, store_id, channel, payment_method, ordered_at, subtotal,
    discount_total, total, points_value, refunded_total, created_at)
  SELECT :member + g, gen_random_uuid()::text, 1, 'store', '', now(), 100 + g % 900, 0, 100 + g % 900, 0, 0, now()
  FROM generate_series(0, :batch - 1) g
  RETURNING id, member_id, total)
INSERT INTO bench_ledger (account_id, member_id, kind, points, balance_after, purchase_id, reason_code, reason_params,
  reason, actor_id, created_at)
  SELECT member_id, member_id, 'earn', total::int, 0, id, 'purchase', jsonb_build_object('ref', 'POS'), '', NULL, now()
  FROM p;
UPDATE bench_account SET balance = balance + 100, lifetime_earned = lifetime_earned + 100,
  lifetime_spend = lifetime_spend + 100, updated_at = now() WHERE member_id BETWEEN :member AND :member + :batch - 1;
END;
"""


def run_pgbench(database: str, *, clients: int, seconds: int, batch: int = 0, full: bool = False) -> dict:
    """pgbench with the posting's writes (`batch` 0: one purchase a transaction; else that many
    purchases per transaction, set-based). Rates are purchases/s; `cpu_ms` the CPU of pgbench's
    own backends per purchase, sampled from /proc until they end (the last 0.3 s or so lost)."""
    pg = ["-h", "127.0.0.1", "-U", "postgres"]
    setup = """
        DROP TABLE IF EXISTS bench_purchase, bench_ledger, bench_account, bench_item, bench_lot, bench_posting;
        CREATE TABLE bench_purchase (LIKE members_purchase INCLUDING ALL);
        CREATE TABLE bench_ledger (LIKE rewards_ledgerentry INCLUDING ALL);
        CREATE TABLE bench_account (LIKE rewards_pointsaccount INCLUDING ALL);
        CREATE TABLE bench_item (LIKE members_purchaseitem INCLUDING ALL);
        CREATE TABLE bench_lot (LIKE rewards_pointslot INCLUDING ALL);
        CREATE TABLE bench_posting (LIKE rewards_purchaseposting INCLUDING ALL);
        INSERT INTO bench_account SELECT * FROM rewards_pointsaccount;
    """
    sh("psql", *pg, "-d", database, "-q", "-v", "ON_ERROR_STOP=1", "-c", setup)
    sh("psql", *pg, "-d", database, "-q", "-c", "VACUUM ANALYZE bench_account")
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(PGBENCH_BATCH_SCRIPT if batch else PGBENCH_FULL_SCRIPT if full else PGBENCH_SCRIPT)
    count = [*pg, "-d", database, "-tAc", "SELECT count(*) FROM bench_purchase"]
    try:
        process = subprocess.Popen(
            [
                "pgbench", *pg, "-n", "-c", str(clients), "-j", str(min(clients, os.cpu_count() or 1)),
                "-T", str(seconds), "-D", f"members={MEMBERS}", "-D", f"batch={batch or 1}", "-f", script.name,
                database,
            ],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        time.sleep(1)
        backends = serving_backends(database)
        first_cpu, first_rows = cpu_seconds(backends), int(sh("psql", *count))
        last_cpu, last_rows = first_cpu, first_rows
        while process.poll() is None:
            time.sleep(0.3)
            cpu = cpu_seconds(backends)
            if process.poll() is not None:
                break
            last_cpu, last_rows = cpu, int(sh("psql", *count))
        out = process.communicate()[0]
    finally:
        os.unlink(script.name)
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    latency = re.search(r"latency average = ([\d.]+) ms", out)
    rows = sh("psql", *pg, "-d", database, "-tAc", "SELECT count(*) FROM bench_purchase")
    failed = re.search(r"number of failed transactions: (\d+)", out)
    return {
        "rate": tps * (batch or 1),
        "cpu_ms": (last_cpu - first_cpu) / max(last_rows - first_rows, 1) * 1000,
        "latency": float(latency.group(1)) if latency else None,
        "rows": int(rows),
        "failed": int(failed.group(1)) if failed else 0,
    }


def verdict(ok: bool) -> str:
    return "OK" if ok else "NOT MET"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=None, help="sync workers instead of gunicorn.conf.py's")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--batch-clients", type=int, default=2)
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
    server = f"{args.workers} sync workers" if args.workers else "gunicorn.conf.py (3 processes x 3 threads)"
    print(f"{len(members):,} members with accounts; gunicorn {server}; {args.clients} clients")

    profile = json.loads(
        sh(
            sys.executable, __file__, "--child", "profile", "--member", members[0], "--token", token,
            env={**env, "DJANGO_CONN_MAX_AGE": "600"},  # as gunicorn runs: one connection, not one per request
        ).splitlines()[-1]
    )  # fmt: skip
    print(f"one posting: {profile['queries']} SQL queries (Django test client, production settings)")
    common = {"database": args.database, "clients": args.clients, "seconds": args.seconds, "workers": args.workers}
    runs = {}
    for mode in ("post", "floor", "replay"):
        runs[mode] = run_api(env, token, members, mode=mode, **common)
        print(f"{mode}: {runs[mode]['rate']:,.1f}/s; CPU ms per item {runs[mode]['cpu_ms']}")
    runs["batch"] = run_api(
        env, token, members, mode="batch", batch_size=args.batch_size,
        **{**common, "clients": args.batch_clients},
    )  # fmt: skip
    print(f"batch: {runs['batch']['rate']:,.1f} purchases/s; CPU ms per purchase {runs['batch']['cpu_ms']}")
    raw = run_pgbench(args.database, clients=args.clients, seconds=args.seconds)
    print(f"pgbench: {raw['rate']:,.1f} tps; PostgreSQL CPU {raw['cpu_ms']:.3f} ms per transaction")
    raw_full = run_pgbench(args.database, clients=args.clients, seconds=args.seconds, full=True)
    print(f"pgbench, all the posting's rows: {raw_full['rate']:,.1f} tps; PostgreSQL CPU {raw_full['cpu_ms']:.3f} ms")
    raw_batch = run_pgbench(args.database, clients=args.batch_clients, seconds=args.seconds, batch=args.batch_size)
    print(f"pgbench batched: {raw_batch['rate']:,.1f} purchases/s")

    post, floor, replay, batch = runs["post"], runs["floor"], runs["replay"], runs["batch"]
    app_ratio = post["cpu_ms"]["gunicorn"] / floor["cpu_ms"]["gunicorn"]
    pg_ratio = post["cpu_ms"]["postgres"] / raw["cpu_ms"]
    rate_ratio = post["rate"] / raw["rate"]
    replay_ratio = post["cpu_ms"]["gunicorn"] / replay["cpu_ms"]["gunicorn"]
    batch_ratio = batch["rate"] / raw_batch["rate"]
    targets = [
        ("app CPU per posting / DRF floor's", f"{app_ratio:.2f}x", "<= 2.5x", app_ratio <= 2.5),
        ("PostgreSQL CPU per posting / pgbench's", f"{pg_ratio:.2f}x", "<= 3x", pg_ratio <= 3),
        ("postings/s / pgbench's tps", f"{rate_ratio:.1%}", ">= 10%", rate_ratio >= TARGET),
        ("new posting's app CPU / a replay's", f"{replay_ratio:.2f}x", ">= 3x", replay_ratio >= 3),
        ("batch purchases/s / pgbench batched", f"{batch_ratio:.1%}", ">= 30%", batch_ratio >= 0.30),
    ]
    cache_backend = "Redis (REDIS_URL)" if env.get("REDIS_URL") else "local memory (no REDIS_URL)"
    lines = [
        "Purchase posting benchmark (benchmarks/bench_posting.py)",
        f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"machine: {description}; PostgreSQL {pg_version}",
        f"setup: {len(members):,} members with accounts (entry tier: the stream upgrades some as it goes); "
        f"gunicorn {server}, production mode, persistent connections, prepared statements; {args.clients} "
        f"client processes on the same machine ({args.batch_clients} for batches of {args.batch_size}), "
        f"{args.seconds} s per run; cache: {cache_backend}",
        "",
        "targets (issue 20), measured in this run:",
        *(f"  {name}: {value} (target {target}: {verdict(ok)})" for name, value, target, ok in targets),
        "",
        "CPU per item (user + system from /proc; PostgreSQL = the backends serving the run only):",
        *(
            f"  {label}: {run['rate']:,.1f}/s; "
            + ", ".join(f"{who} {ms:.3f} ms" for who, ms in run["cpu_ms"].items())
            + f"; latency p50 {run['p50']:.1f} ms, p95 {run['p95']:.1f} ms; {len(run['failures'])} failures"
            for label, run in (
                ("POST /api/v1/purchases/ (new)", post),
                ("GET /bench/floor/ (DRF floor: token, one query)", floor),
                ("POST /api/v1/purchases/ (replay, same external_ref)", replay),
                (f"POST /api/v1/purchases/batch/ ({args.batch_size} a request; per purchase)", batch),
            )
        ),
        f"  pgbench, the posting's three writes a transaction: {raw['rate']:,.1f} tps, PostgreSQL "
        f"{raw['cpu_ms']:.3f} ms per transaction ({raw['failed']} failed)",
        f"  pgbench batched, {args.batch_size} purchases a transaction: {raw_batch['rate']:,.1f} purchases/s",
        f"  context, not a target: pgbench writing every row a posting writes (purchase, two lines, ledger row, lot, "
        f"posting, account; no foreign keys, no triggers): {raw_full['rate']:,.1f} tps, PostgreSQL "
        f"{raw_full['cpu_ms']:.3f} ms per transaction; the posting's PostgreSQL CPU is "
        f"{post['cpu_ms']['postgres'] / raw_full['cpu_ms']:.2f}x that",
        f"  one PostgreSQL core takes about {1000 / max(post['cpu_ms']['postgres'], 0.001):,.0f} postings/s; "
        f"one app core about {1000 / max(post['cpu_ms']['gunicorn'], 0.001):,.0f} postings/s",
        "",
        f"one posting: {profile['queries']} SQL queries (authentication included):",
        *(f"  {statement}" for statement in profile["statements"]),
        "",
        "profile of 50 postings (pyinstrument, Django test client, production settings, persistent connection):",
        profile["profile"],
    ]
    for label, run in runs.items():
        if run["failures"]:
            lines += ["", f"first failures ({label}):", *run["failures"][:5]]
    print("\n".join(lines[:12]))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    sh("dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", args.database)


if __name__ == "__main__":
    main()
