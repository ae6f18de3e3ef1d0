"""Benchmark: `seed_demo --members 10000` on a fresh SQLite file (target: under 60 s).

Run by hand (not by pytest), from the project root:

    .venv/bin/python benchmarks/bench_seed_demo.py [--members 10000] [--database-url URL]

It migrates a fresh database (a temporary SQLite file unless `--database-url` is given), then
times `manage.py seed_demo` in a subprocess and prints the row counts it reports. The figure goes
to stdout and to benchmarks/results/seed_demo.txt.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "seed_demo.txt"
TARGET_SECONDS = 60


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--database-url", help="an empty database to use (default: a temporary SQLite file)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {name: value for name, value in os.environ.items() if name not in {"DATABASE_URL", "DJANGO_DEBUG"}}
        env["DATABASE_URL"] = options.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        env["LOYALTY_VAR_DIR"] = str(Path(tmp) / "var")
        manage(env, "migrate", "--no-input", "-v", "0")
        load_before = os.getloadavg()[0]
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        result = manage(env, "seed_demo", "--members", str(options.members), "-v", "0")
        elapsed = time.perf_counter() - started
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # CPU time of the command: on a shared machine the wall clock also counts waiting for a core.
        cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
        load_after = os.getloadavg()[0]
        # The purchases earn points through rewards' batch service: say what they left.
        points = (
            manage(
                env,
                "shell",
                "-c",
                "from django.db.models import Count, Sum; "
                "from rewards.models import LedgerEntry, PointsAccount; "
                "a = PointsAccount.objects.aggregate(n=Count('id'), b=Sum('balance')); "
                "tiers = dict(PointsAccount.objects.values_list('tier__code').annotate(Count('id'))); "
                "print(f\"{a['n']} points accounts, {LedgerEntry.objects.count()} ledger rows, \""
                "f\"{a['b']} points in balances, tiers {tiers}\")",
            )
            .stdout.strip()
            .splitlines()[-1]
        )  # after the shell's own "objects imported" notice
    summary = result.stdout.strip().splitlines()[0]
    verdict = "OK" if elapsed < TARGET_SECONDS else "TOO SLOW"
    report = (
        f"seed_demo --members {options.members}: {elapsed:.1f} s wall clock including start-up "
        f"({verdict}, target < {TARGET_SECONDS} s); {cpu:.1f} s of CPU; "
        f"load average {load_before:.1f} before, {load_after:.1f} after (1 = one busy core)\n"
        f"  {summary}\n"
        f"  {points}\n"
        f"  database: {'given URL' if options.database_url else 'SQLite (temporary file)'}; "
        f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs\n"
    )
    print(report, end="")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
