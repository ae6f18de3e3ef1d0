"""The real services behind the product: the Redis cache, the Celery broker and the database."""

import secrets
import time

import pytest
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends import redis as django_redis
from django.db import connection
from kombu import Connection

from loyalty_crm.celery import app
from loyalty_crm.tasks import ping


def test_settings_read_the_environment_defaults():
    assert settings.TIME_ZONE == "Asia/Shanghai"
    assert settings.CURRENCY == "CNY"
    assert settings.CELERY_BEAT_SCHEDULER == "django_celery_beat.schedulers:DatabaseScheduler"
    assert [code for code, _name in settings.LANGUAGES] == ["zh-hans", "en"]


def test_filesystem_broker_round_trip(tmp_path):
    """The embedded broker `make run` uses needs no server: a message put is a message got."""
    options = {
        "data_folder_in": str(tmp_path),
        "data_folder_out": str(tmp_path),
        "control_folder": str(tmp_path / "control"),
    }
    with Connection("filesystem://", transport_options=options) as conn:
        queue = conn.SimpleQueue("roundtrip")
        queue.put({"hello": "世界"})
        message = queue.get(timeout=5)
        assert message.payload == {"hello": "世界"}
        message.ack()
        queue.close()


@pytest.mark.postgres
@pytest.mark.django_db
def test_database_is_postgresql_in_ci():
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version_num')::int")
        assert cursor.fetchone()[0] >= 130000


@pytest.mark.redis
def test_cache_is_redis_and_round_trips(settings):
    # Django's Redis backend, with one client per connection pool (loyalty_crm.cache).
    assert settings.CACHES["default"]["BACKEND"] == "loyalty_crm.cache.RedisCache"
    assert isinstance(caches["default"], django_redis.RedisCache)
    key = f"test:{secrets.token_hex(4)}"
    cache.set(key, {"会员": 1}, timeout=30)
    assert cache.get(key) == {"会员": 1}
    cache.delete(key)


@pytest.mark.redis
def test_celery_worker_consumes_a_task_from_the_redis_broker():
    from celery.contrib.testing.worker import start_worker

    assert app.conf.broker_url.startswith("redis://"), "CI must run Celery on Redis (CELERY_BROKER_URL)"
    token = secrets.token_hex(8)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        ping.delay(token)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and cache.get(f"celery-ping:{token}") is None:
            time.sleep(0.1)
    assert cache.get(f"celery-ping:{token}") == "pong"
