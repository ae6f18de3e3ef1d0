"""In-process CPU per purchase of the offline-sync batch (`POST /api/v1/purchases/batch/`, issue 20).

Run by hand (not by pytest), from the project root:

    .venv/bin/python benchmarks/profile_batch.py [--batches 20] [--size 500] [--profile]
        [--database batch_profile] [--fresh]

The quick loop behind bench_posting.py's batch mode, as benchmarks/profile_posting.py is for the
single posting: no gunicorn, no HTTP and no client processes. The project's WSGI application
(production settings, one persistent database connection) is called in a loop with ready-made
request environments, each a batch of `--size` fresh purchases (one to three lines, a random one
of 2,000 members, as bench_posting.py's `body` builds them), and the figures are the application's
own CPU per purchase (`time.process_time`) and its PostgreSQL backend's (from /proc). Every answer
must be 200 with every purchase created. `--profile` prints a cProfile of the loop instead (by own
time, then cumulative). The database (`batch_profile`) is made and seeded on first use.
"""

from __future__ import annotations

import argparse
import json
import os
import random
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
    stamp = int(time.time())

    def environ(payload: bytes) -> dict:
        return wsgi_environ("POST", "/api/v1/purchases/batch/", token, payload)

    def make(n: int, prefix: str) -> list[dict]:
        return [
            environ(
                json.dumps(
                    [
                        body(rng.choice(members), f"{prefix}-{stamp}-{b}-{i}", rng, encode=False)
                        for i in range(args.size)
                    ]
                ).encode()
            )
            for b in range(n)
        ]

    failures: list[str] = []

    def call(env) -> None:
        answer = {}

        def start_response(status, headers, exc_info=None):
            answer["status"] = int(status[:3])

        text = b"".join(app(env, start_response))
        if answer["status"] != 200:
            failures.append(f"{answer['status']} {text[:200]!r}")
            return
        created = json.loads(text)["created"]
        if created != args.size:
            failures.append(f"{created} of {args.size} created")

    for env in make(3, "WARM"):  # imports, caches, plans
        call(env)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    envs = make(args.batches, "BATCH")
    purchases = args.batches * args.size
    measured = run_calls(call, envs, backend, profile=args.profile)
    if measured:
        cpu, pg, wall = measured
        print(
            f"batch of {args.size}: app CPU {cpu / purchases * 1000:.3f} ms, PostgreSQL CPU "
            f"{pg / purchases * 1000:.3f} ms, wall {wall / purchases * 1000:.3f} ms per purchase "
            f"({args.batches} batches; load average {os.getloadavg()[0]:.2f})",
            flush=True,
        )
    if failures:
        print(f"{len(failures)} failures, the first: {failures[0]}", flush=True)
        sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--database", default="batch_profile")
    parser.add_argument("--fresh", action="store_true", help="drop, migrate and seed the database first")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    extra = ["--batches", str(args.batches), "--size", str(args.size)] + (["--profile"] if args.profile else [])
    run_wsgi_child(__file__, args.database, args.fresh, extra)


if __name__ == "__main__":
    main()
