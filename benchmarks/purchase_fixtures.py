"""Shared by bench_posting.py and bench_import_purchases.py: a fresh PostgreSQL database in
production mode, members with external ids and accounts, products, and the machine's description.

Not a benchmark itself; run the two scripts instead.
"""

from __future__ import annotations

import base64
import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A flower shop's catalogue: sku, name, category code, category name, unit price.
CATALOGUE = [
    ("ROSE-11", "11枝红玫瑰花束", "roses", "玫瑰", "199.00"),
    ("ROSE-33", "33枝红玫瑰花束", "roses", "玫瑰", "520.00"),
    ("ROSE-99", "99枝红玫瑰花束", "roses", "玫瑰", "1314.00"),
    ("LILY-6", "6枝香水百合", "lilies", "百合", "168.00"),
    ("CARN-12", "12枝康乃馨", "carnations", "康乃馨", "128.00"),
    ("TULIP-10", "10枝郁金香", "tulips", "郁金香", "158.00"),
    ("SUNF-3", "3枝向日葵", "sunflowers", "向日葵", "88.00"),
    ("POT-ORCH", "蝴蝶兰盆栽", "plants", "绿植盆栽", "368.00"),
    ("VASE-GL", "玻璃花瓶", "vases", "花瓶", "69.00"),
    ("CARD-1", "手写贺卡", "cards", "贺卡", "10.00"),
    ("CHOC-9", "九颗装巧克力", "gifts", "礼品", "98.00"),
    ("BEAR-1", "小熊公仔", "gifts", "礼品", "59.00"),
]


def sh(*args: str, env: dict | None = None, capture: bool = True) -> str:
    done = subprocess.run(args, env=env, check=True, capture_output=capture, text=True, cwd=ROOT)
    return done.stdout.strip() if capture else ""


def production_env(database: str, host: str = "127.0.0.1", user: str = "postgres") -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{user}@{host}:5432/{database}",
        "DJANGO_DEBUG": "0",
        "SMS_PROVIDER": "log",  # production mode needs it said; nothing is sent here
        "DJANGO_SECRET_KEY": "benchmark-only-" + base64.urlsafe_b64encode(os.urandom(48)).decode(),
        "FIELD_ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "WARNING",
    }


def fresh_database(database: str, env: dict[str, str], host: str = "127.0.0.1", user: str = "postgres") -> str:
    """Drop and create `database`, migrate it; returns PostgreSQL's version."""
    pg = ["-h", host, "-U", user]
    sh("dropdb", *pg, "--if-exists", database)
    sh("createdb", *pg, database)
    sh(sys.executable, "manage.py", "migrate", "--no-input", "-v", "0", env=env)
    return sh("psql", *pg, "-d", database, "-tAc", "SHOW server_version")


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_crm.settings")
    import django

    django.setup()


def seed_members(count: int, *, with_accounts: bool) -> list[str]:
    """`count` members with external ids `POS0000000…` (and, when asked, open points accounts at
    the entry tier), the catalogue, one store. Returns the member numbers. Call after setup_django()."""
    from django.db import transaction
    from django.utils import timezone

    from members.models import Category, Member, Product, Store
    from members.services import new_member_numbers
    from rewards import selectors
    from rewards.models import PointsAccount

    with transaction.atomic():
        Store.objects.get_or_create(code="sh-001", defaults={"name": "上海南京西路店", "city": "上海"})
        for sku, name, code, category_name, price in CATALOGUE:
            category, _ = Category.objects.get_or_create(code=code, defaults={"name": category_name})
            Product.objects.get_or_create(sku=sku, defaults={"name": name, "category": category, "unit_price": price})
        now = timezone.now() - datetime.timedelta(days=5 * 365)
        members = [
            Member(member_no=number, referral_code=code, name=f"会员{i}", external_id=f"POS{i:07d}", registered_at=now)
            for i, (number, code) in enumerate(new_member_numbers(count))
        ]
        Member.objects.bulk_create(members, batch_size=5000)
        if with_accounts:
            entry = selectors.tiers()[0]
            PointsAccount.objects.bulk_create(
                [PointsAccount(member=member, tier=entry) for member in members], batch_size=5000
            )
    return [member.member_no for member in members]


def machine() -> str:
    try:
        with open("/proc/meminfo") as info:
            memory = f"{int(info.readline().split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        memory = "? GiB"
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {memory}, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.2f} at the start"
    )


# --- the in-process WSGI loops (profile_posting.py, profile_batch.py) ---------------------------------


def wsgi_environ(method: str, path: str, token: str, payload: bytes = b"") -> dict:
    """A ready-made WSGI request environment for the project's application, as gunicorn builds one."""
    import io

    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Token {token}",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(payload)),
        "wsgi.input": io.BytesIO(payload),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "SERVER_PROTOCOL": "HTTP/1.1",
    }


def wsgi_child(seed_file: str):
    """In the loop's child process: (the project's WSGI application under the benchmark's settings,
    the seeded member numbers, the store-staff token)."""
    import json

    os.environ["DJANGO_SETTINGS_MODULE"] = "bench_settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    seeded = json.loads(Path(seed_file).read_text())
    return WSGIHandler(), seeded["members"], seeded["token"]


def run_wsgi_child(script: str, database: str, fresh: bool, args: list[str]) -> None:
    """Seed `database` when asked or never seeded (2,000 members with accounts and a store-staff
    token, as bench_posting.py seeds), then run `script --child --seed-file … *args` against it
    with production settings and one persistent connection."""
    env = production_env(database)
    seed_file = ROOT / "var" / f"{database}.json"
    if fresh or not seed_file.exists():
        seed_file.parent.mkdir(exist_ok=True)
        fresh_database(database, env)
        out = sh(sys.executable, str(ROOT / "benchmarks" / "bench_posting.py"), "--child", "seed", env=env)
        seed_file.write_text(out.splitlines()[-1])
    env = {**env, "DJANGO_CONN_MAX_AGE": "600", "PYTHONPATH": str(ROOT / "benchmarks")}
    sh(sys.executable, script, "--child", "--seed-file", str(seed_file), *args, env=env, capture=False)


def run_calls(call, envs: list[dict], backend: int, *, profile: bool, dump: str | None = None, top: int = 50):
    """Call `call(env)` for each environment. `profile`: print a cProfile of it (own time, then
    cumulative; `dump` also writes the stats) and return None; otherwise return (app CPU, the
    PostgreSQL backend's CPU, wall time) in seconds for the whole loop."""
    import time

    from bench_posting import cpu_seconds

    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for env in envs:
            call(env)
        profiler.disable()
        if dump:
            profiler.dump_stats(dump)
        stats = pstats.Stats(profiler).strip_dirs()
        stats.sort_stats("tottime").print_stats(top)
        stats.sort_stats("cumulative").print_stats(top + 30)
        return None
    pg0, cpu0, wall0 = cpu_seconds([backend]), time.process_time(), time.perf_counter()
    for env in envs:
        call(env)
    return time.process_time() - cpu0, cpu_seconds([backend]) - pg0, time.perf_counter() - wall0
