"""In-process CPU of a posting, a replay and the DRF floor: the quick loop behind bench_posting.py.

Run by hand (not by pytest), from the project root, after `bench_posting.py --keep` or on its own:

    .venv/bin/python benchmarks/profile_posting.py [--requests 2000] [--profile post|replay|floor]
        [--database posting_profile] [--fresh]

No gunicorn, no HTTP and no client processes: the project's WSGI application (production settings,
the benchmark's URLconf with the floor view, one persistent database connection) is called in a
loop with ready-made request environments, so the figures are the application's own CPU per
request (`time.process_time`) and its PostgreSQL backend's (from /proc), without the noise of a
load generator on the same cores. `--profile MODE` prints a cProfile of that mode instead
(sorted by own time, then cumulative). The stream: fresh references for 2,000 members with one
to three lines each (as bench_posting.py posts), the replays one posted body sent again.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_posting import body
from purchase_fixtures import run_calls, run_wsgi_child, wsgi_child, wsgi_environ


def child(args) -> None:
    app, members, token = wsgi_child(args.seed_file)
    from django.db import connection

    rng = random.Random(7)

    def environ(method: str, path: str, payload: bytes = b"") -> dict:
        return wsgi_environ(method, path, token, payload)

    statuses: dict[int, int] = {}

    def call(env) -> None:
        def start_response(status, headers, exc_info=None):
            statuses[int(status[:3])] = statuses.get(int(status[:3]), 0) + 1

        for _chunk in app(env, start_response):
            pass

    stamp = int(time.time())
    replay_payload = body(members[0], f"REPLAY-{stamp}", random.Random(1)).encode()

    def make(mode: str, n: int, prefix: str = "P") -> list[dict]:
        if mode == "floor":
            return [environ("GET", "/bench/floor/") for _ in range(n)]
        if mode == "replay":
            return [environ("POST", "/api/v1/purchases/", replay_payload) for _ in range(n)]
        refs = [f"{prefix}-{stamp}-{mode}-{i}" for i in range(n)]
        return [environ("POST", "/api/v1/purchases/", body(rng.choice(members), ref, rng).encode()) for ref in refs]

    for env in make("post", 50, "WARM") + make("floor", 50) + make("replay", 50):  # warm: imports, caches, plans
        call(env)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    if args.statements:
        # The server logs each statement's time in the backend (parameters never: a token is one).
        with connection.cursor() as cursor:
            cursor.execute("SET log_parameter_max_length = 0")
            cursor.execute("SET log_min_duration_statement = 0")
    modes = [args.profile] if args.profile else [args.statements] if args.statements else ["floor", "post", "replay"]
    for mode in modes:
        envs = make(mode, args.requests)
        statuses.clear()
        measured = run_calls(call, envs, backend, profile=bool(args.profile), dump=args.dump, top=45)
        if measured:
            cpu, pg, wall = measured
            print(
                f"{mode}: app CPU {cpu / len(envs) * 1000:.3f} ms, PostgreSQL CPU {pg / len(envs) * 1000:.3f} ms, "
                f"wall {wall / len(envs) * 1000:.3f} ms per request; answers {statuses}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", choices=["post", "replay", "floor"])
    parser.add_argument("--database", default="posting_profile")
    parser.add_argument("--dump", help="with --profile: also write the cProfile stats to this file (for pstats)")
    parser.add_argument(
        "--statements",
        choices=["post", "replay", "floor"],
        help="time each SQL statement of this mode in the PostgreSQL backend, from the server's log "
        "(needs a superuser connection and --server-log readable)",
    )
    parser.add_argument("--server-log", default="/var/log/postgresql/postgresql-15-main.log")
    parser.add_argument("--fresh", action="store_true", help="drop, migrate and seed the database first")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    extra = ["--requests", str(args.requests)]
    if args.profile:
        extra += ["--profile", args.profile]
    if args.dump:
        extra += ["--dump", str(Path(args.dump).resolve())]
    if args.statements:
        extra += ["--statements", args.statements]
        start = Path(args.server_log).stat().st_size
    run_wsgi_child(__file__, args.database, args.fresh, extra)
    if args.statements:
        with open(args.server_log, "rb") as log:
            log.seek(start)
            print_statement_times(log.read().decode(errors="replace"), args.requests)


def print_statement_times(log: str, requests: int) -> None:
    """Backend time per request of each statement (parse + bind + execute, as the server logged
    them), the largest first. COMMIT includes the deferred foreign-key checks and the WAL flush."""
    totals: dict[str, float] = {}
    for match in re.finditer(r"duration: ([\d.]+) ms  (?:parse|bind|execute|statement)[^:]*: ([^\n]*)", log):
        text = re.sub(r"\s+", " ", match.group(2))[:100]
        if text.startswith("SET log_"):
            continue
        totals[text] = totals.get(text, 0.0) + float(match.group(1))
    total = sum(totals.values())
    print(f"backend time per request, by statement (wall time in the backend; total {total / requests:.3f} ms):")
    for text, ms in sorted(totals.items(), key=lambda item: -item[1]):
        if ms / requests >= 0.005:
            print(f"  {ms / requests:7.3f} ms  {text}")


if __name__ == "__main__":
    main()
