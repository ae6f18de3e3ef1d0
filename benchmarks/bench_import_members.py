"""Benchmark: `import_members` on PostgreSQL with 100,000 realistic rows (target ≥ 5,000 rows/s).

Run by hand (not by pytest), from the project root:

    .venv/bin/python benchmarks/bench_import_members.py [--rows 100000] [--batch-size 5000]  (or: make bench-import)

It generates the CSV files in a temporary directory (Chinese names, valid China mobile numbers,
emails, birthdays), creates a fresh database (`loyalty_bench_import` on 127.0.0.1 as user
postgres, dropped first if it exists), migrates it with `manage.py migrate`, then times in a
subprocess, in production mode (DJANGO_DEBUG=0):
  1. the first import (every row creates a member),
  2. a re-run of the same file (every row matched, nothing changes),
  3. a re-run where every row changed (every row updates a member).
Each import runs in its own process, timing the service call only (not Django start-up).
The figures go to stdout and to benchmarks/results/import_members.txt.
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "import_members.txt"
TARGET = 5_000  # rows per second
HEADER = ["external_id", "name", "phone", "email", "birthday", "registered_at", "gender"]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"  # noqa: E501
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鑫浩宇晨欣怡子涵梓轩雨萱思琪佳豪俊杰婷雪梅建国志强文博一诺若汐"  # noqa: E501
MOBILE_PREFIXES = ["135", "136", "137", "138", "139", "150", "151", "152", "158", "159", "186", "187", "188", "189"]
EMAIL_DOMAINS = ["qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "gmail.com", "outlook.com"]
GENDERS = ["female", "female", "female", "male", "male", "unknown", "女", "男"]


def generate(path: Path, rows: int, *, changed: bool = False) -> None:
    """Deterministic realistic rows; `changed` alters name and email of every row."""
    rng = random.Random(20240214)
    now = datetime.datetime(2024, 6, 1, 12, 0)
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for i in range(rows):
            name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
            # 8 digits that never repeat within a prefix: 7919 is coprime with 10^8.
            phone = MOBILE_PREFIXES[i % len(MOBILE_PREFIXES)] + f"{(i * 7919 + 12345) % 10**8:08d}"
            email = f"user{i}.{rng.randrange(1000)}@{rng.choice(EMAIL_DOMAINS)}" if rng.random() < 0.7 else ""
            birthday = (
                (datetime.date(1955, 1, 1) + datetime.timedelta(days=rng.randrange(50 * 365))).isoformat()
                if rng.random() < 0.85
                else ""
            )
            registered = now - datetime.timedelta(seconds=rng.randrange(5 * 365 * 86400))
            registered_at = registered.date().isoformat() if i % 3 == 0 else registered.strftime("%Y-%m-%d %H:%M:%S")
            if changed:
                name += "新"
                email = f"changed{i}@example.com"
            writer.writerow([f"POS{i:07d}", name, phone, email, birthday, registered_at, rng.choice(GENDERS)])


def sh(*args: str, env: dict | None = None, capture: bool = True) -> str:
    done = subprocess.run(args, env=env, check=True, capture_output=capture, text=True, cwd=ROOT)
    return done.stdout.strip() if capture else ""


def child(path: str, batch_size: int) -> None:
    """In the subprocess: time the service itself (Django start-up excluded)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_crm.settings")
    import django

    django.setup()
    from members.importing import import_members
    from members.models import Member

    started = time.perf_counter()
    with open(path, encoding="utf-8-sig", newline="") as stream:
        result = import_members(stream=stream, batch_size=batch_size)
    seconds = time.perf_counter() - started
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": seconds,
                "created": result.created,
                "updated": result.updated,
                "unchanged": result.unchanged,
                "skipped": result.skipped,
                "members": Member.objects.count(),
                "history": Member.history.count(),
                "peak_rss_mb": peak_rss_mb,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=5000, help="default: the command's default")
    parser.add_argument("--database", default="loyalty_bench_import")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.batch_size)
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
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        first, changed = Path(tmp) / "members.csv", Path(tmp) / "members-changed.csv"
        started = time.perf_counter()
        generate(first, args.rows)
        generate(changed, args.rows, changed=True)
        print(
            f"Generated {args.rows:,} rows ({first.stat().st_size / 1e6:.1f} MB) "
            f"in {time.perf_counter() - started:.1f}s"
        )

        sh("dropdb", *pg, "--if-exists", args.database)
        sh("createdb", *pg, args.database)
        sh(sys.executable, "manage.py", "migrate", "--no-input", "-v", "0", env=env)
        pg_version = sh("psql", *pg, "-d", args.database, "-tAc", "SHOW server_version")

        runs = []
        for label, path in (
            ("first import (all creates)", first),
            ("re-run, same file (all unchanged)", first),
            ("re-run, every row changed (all updates)", changed),
        ):
            load = os.getloadavg()[0]  # other work on the machine skews the figures; say how busy it was
            out = sh(sys.executable, __file__, "--child", str(path), "--batch-size", str(args.batch_size), env=env)
            figures = json.loads(out.splitlines()[-1])
            figures["label"] = label
            figures["load"] = load
            figures["rate"] = args.rows / figures["seconds"]
            runs.append(figures)
            print(
                f"{label}: {figures['seconds']:.1f}s, {figures['rate']:,.0f} rows/s "
                f"({figures['rate'] / TARGET:.2f}× the {TARGET:,} rows/s target); created {figures['created']:,}, "
                f"updated {figures['updated']:,}, unchanged {figures['unchanged']:,}, skipped {figures['skipped']}; "
                f"peak memory (RSS) {figures['peak_rss_mb']:.0f} MB; load average before {load:.2f}"
            )
        sh("dropdb", *pg, "--if-exists", args.database)

    assert runs[0]["created"] == args.rows and runs[0]["members"] == args.rows, runs[0]
    assert runs[1]["unchanged"] == args.rows and runs[1]["members"] == args.rows, runs[1]
    assert runs[2]["updated"] == args.rows and runs[2]["members"] == args.rows, runs[2]

    lines = [
        "import_members benchmark (benchmarks/bench_import_members.py)",
        f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"machine: {sh('uname', '-m')}, nproc {sh('nproc')}, Python {platform.python_version()}",
        f"PostgreSQL: {pg_version}",
        f"rows: {args.rows:,}, batch size: {args.batch_size}, DJANGO_DEBUG=0",
        *(
            f"{run['label']}: {run['seconds']:.1f}s = {run['rate']:,.0f} rows/s "
            f"= {run['rate'] / TARGET:.2f}× the {TARGET:,} rows/s target "
            f"(peak RSS {run['peak_rss_mb']:.0f} MB, load average before {run['load']:.2f})"
            for run in runs
        ),
        "",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    print(f"Written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
