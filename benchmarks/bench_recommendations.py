"""Benchmark: recommendation hit rate at 5 on the real-shaped demo data, co-purchase against "most popular".

Run by hand (not by pytest), from the project root:

    .venv/bin/python benchmarks/bench_recommendations.py [--members 10000] [--database recommendations_bench]

Makes a fresh PostgreSQL database (dropped first if it exists; `--database-url` takes any empty
database instead, SQLite included), migrates it and loads the demo shop with `seed_demo` (a year of
purchases replayed through the services). Then, holding out each member's last purchase:

* co-purchase: the production ranking (`members._sql.read_recommendations`, the same statement the
  nightly refresh writes) computed without the held-out purchases — the top 5 products the member
  had not bought, by item-to-item co-purchase over the 12 months before now;
* most popular: the 5 active products bought by the most members in the same window (without the
  held-out purchases), less those the member had bought.

A hit is a held-out purchase containing one of the member's 5 products. It is counted over the
members with two or more purchases whose last purchase holds a product new to them (the only
purchases a "not yet bought" list can hit), and also over every member with two or more purchases.
It also times the nightly refresh on the whole data. Output to stdout and
benchmarks/results/recommendations.txt.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "recommendations.txt"
K = 5


def sh(*args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(args, env=env, check=True, cwd=ROOT, capture_output=True, text=True)


def prepare(options) -> str:
    url = options.database_url
    if not url:
        pg = ["-h", options.host, "-U", options.user]
        sh("dropdb", *pg, "--if-exists", options.database)
        sh("createdb", *pg, options.database)
        url = f"postgres://{options.user}@{options.host}:5432/{options.database}"
    env = {**os.environ, "DATABASE_URL": url}
    sh(sys.executable, "manage.py", "migrate", "--no-input", "-v", "0", env=env)
    started = time.perf_counter()
    sh(sys.executable, "manage.py", "seed_demo", "--members", str(options.members), env=env)
    print(f"seed_demo --members {options.members}: {time.perf_counter() - started:.0f} s", flush=True)
    return url


def measure() -> list[str]:
    import django

    django.setup()
    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone

    from members import _sql, services
    from members.models import Member, Product, Purchase, PurchaseItem
    from members.services.recommendations import recommendation_window

    now = timezone.now()
    since, until = recommendation_window(now)

    # Each member's purchases, last first; the held-out one is the first.
    baskets: dict[int, dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
    order: dict[int, list[tuple]] = defaultdict(list)
    for purchase_id, member_id, ordered_at, product_id in PurchaseItem.objects.filter(
        purchase__member__isnull=False, product__isnull=False
    ).values_list("purchase_id", "purchase__member_id", "purchase__ordered_at", "product_id"):
        baskets[member_id][purchase_id].add(product_id)
        order[member_id].append((ordered_at, purchase_id))
    held_out: dict[int, int] = {}
    for member_id, rows in order.items():
        held_out[member_id] = max(rows)[1]

    started = time.perf_counter()
    rows = _sql.read_recommendations(since=since, until=until, limit=K, holdout_last=True)
    holdout_seconds = time.perf_counter() - started
    co_purchase: dict[int, list[int]] = defaultdict(list)
    from_co_purchase: set[int] = set()  # members whose list starts with co-purchases (score > 0)
    for member_id, product_id, _rank, score in sorted(rows, key=lambda r: (r[0], r[2])):
        co_purchase[member_id].append(product_id)
        if score > 0:
            from_co_purchase.add(member_id)

    # Most popular in the window, without the held-out purchases.
    buyers: dict[int, set[int]] = defaultdict(set)
    held = set(held_out.values())
    for purchase_id, member_id, product_id in PurchaseItem.objects.filter(
        purchase__member__isnull=False,
        product__isnull=False,
        product__is_active=True,
        purchase__ordered_at__gte=since,
        purchase__ordered_at__lt=until,
    ).values_list("purchase_id", "purchase__member_id", "product_id"):
        if purchase_id not in held:
            buyers[product_id].add(member_id)
    popular = sorted(buyers, key=lambda p: (-len(buyers[p]), p))

    evaluated = eligible = hits_co = hits_pop = hits_co_all = hits_pop_all = covered = 0
    listed = listed_co = listed_pop = 0  # eligible members with co-purchase candidates of their own
    for member_id, purchases in baskets.items():
        if len(purchases) < 2:
            continue
        evaluated += 1
        target = purchases[held_out[member_id]]
        before = set().union(*(p for pid, p in purchases.items() if pid != held_out[member_id]))
        new = target - before
        ours = co_purchase.get(member_id, [])
        covered += bool(ours)
        theirs = [p for p in popular if p not in before][:K]
        hit_co, hit_pop = bool(set(ours) & target), bool(set(theirs) & target)
        hits_co_all += hit_co
        hits_pop_all += hit_pop
        if new:
            eligible += 1
            hits_co += hit_co
            hits_pop += hit_pop
            if member_id in from_co_purchase:
                listed += 1
                listed_co += hit_co
                listed_pop += hit_pop

    started = time.perf_counter()
    run = services.refresh_recommendations()
    refresh_seconds = time.perf_counter() - started

    members = Member.objects.count()
    purchases = Purchase.objects.count()
    member_purchases = Purchase.objects.filter(member__isnull=False).count()
    lines = PurchaseItem.objects.count()
    products = Product.objects.count()
    active = Product.objects.filter(is_active=True).count()
    sold = PurchaseItem.objects.values("product_id").annotate(n=Count("id")).count()

    def pct(part: int, whole: int) -> str:
        return f"{100 * part / whole:.1f}%" if whole else "—"

    return [
        f"recommendation hit rate at {K}, holding out each member's last purchase ({now:%Y-%m-%d})",
        f"  data: {members} members, {purchases} purchases ({member_purchases} by members, the rest walk-ins), "
        f"{lines} lines, {products} products ({active} active, {sold} ever sold)",
        f"  evaluated: {evaluated} members with 2+ purchases; {eligible} of them last bought a product new to them",
        f"  co-purchase (item-to-item, 12 months, popular after): hit@{K} {pct(hits_co, eligible)} on those {eligible} "
        f"({hits_co}), {pct(hits_co_all, evaluated)} on all {evaluated}; "
        f"members with a list: {pct(covered, evaluated)}",
        f"  most popular (not yet bought): hit@{K} {pct(hits_pop, eligible)} on those {eligible} "
        f"({hits_pop}), {pct(hits_pop_all, evaluated)} on all {evaluated}",
        f"  of them, the {listed} with co-purchase candidates: co-purchase {pct(listed_co, listed)}, "
        f"most popular {pct(listed_pop, listed)}",
        f"  ranking with the hold-out: {holdout_seconds:.2f} s; "
        f"nightly refresh (whole table): {refresh_seconds:.2f} s, {run.rows} rows",
        f"  database: {connection.vendor}; Python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} CPUs",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--database", default="recommendations_bench")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--user", default="postgres")
    parser.add_argument("--database-url", help="an empty database to use instead of a fresh PostgreSQL one")
    parser.add_argument(
        "--reuse", action="store_true", help="measure the database as it is (seeded by an earlier run), no new seed"
    )
    options = parser.parse_args()
    if options.reuse:
        url = options.database_url or f"postgres://{options.user}@{options.host}:5432/{options.database}"
    else:
        url = prepare(options)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_crm.settings")
    sys.path.insert(0, str(ROOT))
    lines = measure()
    text = "\n".join(lines) + f"\n  run at {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC\n"
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
