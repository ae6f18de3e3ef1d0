"""Benchmark: `import_purchases` of 100,000 purchases vs PostgreSQL's own COPY of the same rows (target ≥ 30%).

Run by hand (not by pytest), from the project root:

    .venv/bin/python benchmarks/bench_import_purchases.py [--purchases 100000] [--members 30000]
    (or: make bench-import-purchases)

On a fresh PostgreSQL database (`imports_bench`, dropped first), production mode:

1. `--members` members with external ids, no points accounts yet; a generated CSV of
   `--purchases` purchases (one to four lines each from a flower shop's catalogue, some of
   several units, shuffled, over the last three years so older points expire at once; a few
   members buy often, most seldom — so tiers move).
2. The import: `rewards.importing.import_purchases` in a subprocess (Django start-up excluded):
   checking, purchases and lines, accounts, ledger rows, lots, postings, tier history.
3. PostgreSQL alone: every row the import wrote (purchases, lines, accounts, ledger rows, lots,
   postings, tier history) is exported, the tables are emptied, and the same rows are written
   back into the same tables with COPY in one transaction (indexes and constraints as they are).

Prints both rates (purchases/s) and the ratio. Figures go to benchmarks/results/import_purchases.txt.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from purchase_fixtures import CATALOGUE, ROOT, fresh_database, machine, production_env, setup_django, sh

RESULTS = ROOT / "benchmarks" / "results" / "import_purchases.txt"
TARGET = 0.30
HEADER = ["external_ref", "member_external_id", "ordered_at", "sku", "category", "quantity", "unit_price", "store"]
# Tables the import writes, parents first (the order COPY writes them back).
TABLES = [
    "members_purchase",
    "members_purchaseitem",
    "rewards_pointsaccount",
    "rewards_ledgerentry",
    "rewards_pointslot",
    "rewards_purchaseposting",
    "rewards_tierhistory",
]


def generate(path: Path, purchases: int, members: int) -> int:
    """The CSV; returns its number of lines (rows)."""
    rng = random.Random(20240520)
    now = datetime.datetime.now().replace(microsecond=0) - datetime.timedelta(hours=1)
    weights = [1 / (rank + 10) for rank in range(members)]  # a few regulars, a long tail
    buyers = rng.choices(range(members), weights=weights, k=purchases)
    order = list(range(purchases))
    rng.shuffle(order)
    rows = 0
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for n in order:
            when = now - datetime.timedelta(seconds=rng.randrange(3 * 365 * 86400))
            lines = rng.sample(CATALOGUE, rng.choices((1, 2, 3, 4), weights=(50, 30, 15, 5))[0])
            for sku, _name, code, _cat, price in lines:
                quantity = rng.choices((1, 2, 3, 12), weights=(80, 12, 5, 3))[0]
                writer.writerow(
                    [f"IMP{n:08d}", f"POS{buyers[n]:07d}", when.strftime("%Y-%m-%d %H:%M:%S"), sku, code, quantity,
                     price, "sh-001"]
                )  # fmt: skip
                rows += 1
    return rows


def child_seed(members: int) -> None:
    setup_django()
    from purchase_fixtures import seed_members

    seed_members(members, with_accounts=False)
    print(json.dumps({"members": members}))


def child_import(path: str, batch_size: int) -> None:
    """In a subprocess: time the service itself (Django start-up excluded)."""
    setup_django()
    from django.db.models import Count

    from rewards.importing import import_purchases
    from rewards.models import LedgerEntry, PointsAccount, TierHistory

    started = time.perf_counter()
    with open(path, encoding="utf-8-sig", newline="") as stream:
        result = import_purchases(stream=stream, batch_size=batch_size)
    seconds = time.perf_counter() - started
    tiers = dict(PointsAccount.objects.values_list("tier__code").annotate(Count("id")))
    print(
        json.dumps(
            {
                "seconds": seconds,
                "posted": result.posted,
                "lines": result.lines,
                "points": result.points_earned,
                "tier_changes": result.tier_changes,
                "errors": len(result.errors),
                "ledger_rows": LedgerEntry.objects.count(),
                "tier_history": TierHistory.objects.count(),
                "tiers": tiers,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def raw_copy(database: str) -> tuple[float, dict[str, int]]:
    """Export the import's rows, empty the tables, COPY the rows back in one transaction (timed)."""
    import psycopg

    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{database}") as conn:
        data, counts = {}, {}
        with conn.cursor() as cursor:
            for table in TABLES:
                chunks = []
                with cursor.copy(f"COPY {table} TO STDOUT") as copy:
                    chunks.extend(bytes(chunk) for chunk in copy)
                data[table] = b"".join(chunks)
                counts[table] = data[table].count(b"\n")
        conn.commit()
        with conn.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cursor:
            for table in TABLES:
                with cursor.copy(f"COPY {table} FROM STDIN") as copy:
                    copy.write(data[table])
        conn.commit()
        seconds = time.perf_counter() - started
        with conn.cursor() as cursor:
            for table in TABLES:
                cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 (our table names)
                assert cursor.fetchone()[0] == counts[table], table
    return seconds, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--purchases", type=int, default=100_000)
    parser.add_argument("--members", type=int, default=30_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--database", default="imports_bench")
    parser.add_argument("--child", choices=["seed", "import"], help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "seed":
        child_seed(args.members)
        return
    if args.child == "import":
        child_import(args.path, args.batch_size)
        return
    env = production_env(args.database)
    description = machine()
    pg_version = fresh_database(args.database, env)
    sh(sys.executable, __file__, "--child", "seed", "--members", str(args.members), env=env)
    with tempfile.TemporaryDirectory(prefix="bench-purchases-") as tmp:
        path = Path(tmp) / "purchases.csv"
        rows = generate(path, args.purchases, args.members)
        print(
            f"{args.purchases:,} purchases in {rows:,} rows ({path.stat().st_size / 1e6:.1f} MB), "
            f"{args.members:,} members"
        )
        load = os.getloadavg()[0]
        out = sh(
            sys.executable, __file__, "--child", "import", "--path", str(path), "--batch-size", str(args.batch_size),
            env=env,
        )  # fmt: skip
    imported = json.loads(out.splitlines()[-1])
    assert imported["posted"] == args.purchases and not imported["errors"], imported
    rate = args.purchases / imported["seconds"]
    print(
        f"import_purchases: {imported['seconds']:.1f} s, {rate:,.0f} purchases/s; {imported['ledger_rows']:,} "
        f"ledger rows, {imported['tier_changes']:,} tier changes, tiers {imported['tiers']}; "
        f"peak memory {imported['peak_rss_mb']:.0f} MB"
    )
    raw_seconds, counts = raw_copy(args.database)
    raw_rate = args.purchases / raw_seconds
    ratio = rate / raw_rate
    verdict = "OK" if ratio >= TARGET else "BELOW TARGET"
    print(f"PostgreSQL COPY of the same rows: {raw_seconds:.1f} s, {raw_rate:,.0f} purchases/s")
    print(f"ratio: {ratio:.1%} of PostgreSQL's own batched insert ({verdict}, target ≥ {TARGET:.0%})")
    lines = [
        "import_purchases benchmark (benchmarks/bench_import_purchases.py)",
        f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"machine: {description}; PostgreSQL {pg_version}; load average before the import {load:.2f}",
        f"data: {args.purchases:,} purchases in {rows:,} CSV rows for {args.members:,} members, shuffled, "
        f"over three years; batch size {args.batch_size:,}; production mode",
        "",
        f"import_purchases (service call, start-up excluded): {imported['seconds']:.1f} s = {rate:,.0f} purchases/s",
        f"  wrote: {', '.join(f'{table} {count:,}' for table, count in counts.items())}",
        f"  points earned {imported['points']:,}; tier changes {imported['tier_changes']:,}; "
        f"tiers {imported['tiers']}; peak memory (RSS) {imported['peak_rss_mb']:.0f} MB",
        f"PostgreSQL alone, COPY of the same rows into the same tables (one transaction): {raw_seconds:.1f} s "
        f"= {raw_rate:,.0f} purchases/s",
        f"ratio: {ratio:.1%} ({verdict}, target ≥ {TARGET:.0%})",
    ]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    sh("dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", args.database)


if __name__ == "__main__":
    main()
