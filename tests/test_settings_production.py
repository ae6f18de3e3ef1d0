"""Production mode (DJANGO_DEBUG=0): refuses to start without its secrets; `check --deploy` is clean.

Each test runs `manage.py` in a subprocess with a clean environment, since settings are read once
at start-up.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings

from loyalty_crm.crypto import generate_key

# Variables the settings read: none of the test runner's own may leak into the subprocess.
SETTINGS_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "CELERY_TASK_ALWAYS_EAGER",
    "FIELD_ENCRYPTION_KEY",
    "EMAIL_BACKEND",
    "EMAIL_FILE_PATH",
    "MEDIA_ROOT",
    "LOYALTY_VAR_DIR",
    "SMS_PROVIDER",
    "SMS_RECEIPT_TOKEN",
)


@pytest.fixture
def production_env(tmp_path) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in SETTINGS_VARIABLES and not name.startswith(("DJANGO_", "ALIYUN_SMS_", "TENCENT_SMS_"))
    }
    env.update(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        FIELD_ENCRYPTION_KEY=generate_key(),
        DJANGO_ALLOWED_HOSTS="crm.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'production.sqlite3'}",
        LOYALTY_VAR_DIR=str(tmp_path / "var"),
        # Production needs a real SMS provider (or SMS_PROVIDER=log said out loud): Aliyun here.
        SMS_PROVIDER="aliyun",
        ALIYUN_SMS_ACCESS_KEY_ID="LTAI5tExampleKeyId",
        ALIYUN_SMS_ACCESS_KEY_SECRET=secrets.token_urlsafe(24),
        ALIYUN_SMS_SIGN_NAME="会员俱乐部",
        SMS_RECEIPT_TOKEN=secrets.token_urlsafe(32),
    )
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    return manage(env, "check", "--deploy", "--fail-level", "WARNING")


def test_check_deploy_reports_no_issues_in_production_mode(production_env):
    result = check_deploy(production_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("variable", ["DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_KEY"])
def test_production_mode_refuses_to_start_without(production_env, variable):
    del production_env[variable]
    result = check_deploy(production_env)
    assert result.returncode != 0
    assert variable in result.stderr


def test_production_mode_refuses_the_public_development_encryption_key(production_env):
    production_env["FIELD_ENCRYPTION_KEY"] = settings.DEV_FIELD_ENCRYPTION_KEY
    result = check_deploy(production_env)
    assert result.returncode != 0
    assert "development key" in result.stderr


# --- a weak secret key is refused ---------------------------------------------------------------

RANDOM_PART = "4f9c2a7e1b8d3f6a0c5e9b2d7a4f1c8e3b6d0a5f9c2e7b4d1a8f"  # 52 hex digits


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("k8#Qz!" * 8, "48 characters"),  # 48 characters: too short
        ("ab" * 40, "different characters"),
        ("abcd" * 20, "different characters"),
        ("django-insecure-" + RANDOM_PART, "'django-insecure'"),
        ("please-change-me-" + RANDOM_PART, "'change-me'"),
        ("CHANGEME" + RANDOM_PART, "'changeme'"),
        ("my-Secret-" + RANDOM_PART, "'secret'"),
        ("example-" + RANDOM_PART, "'example'"),
        ("xxxxxxxxxx" + RANDOM_PART, "'xxxxx'"),
        ("dev-key-" + RANDOM_PART, "'dev-key'"),
        (settings.SECRET_KEY, "placeholder"),  # the development key itself
    ],
)
def test_production_mode_refuses_a_weak_secret_key(production_env, key, reason):
    production_env["DJANGO_SECRET_KEY"] = key
    result = check_deploy(production_env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is too weak" in result.stderr and reason in result.stderr


def test_a_long_random_secret_key_is_accepted(production_env):
    production_env["DJANGO_SECRET_KEY"] = secrets.token_hex(25)  # exactly 50 characters
    result = check_deploy(production_env)
    assert result.returncode == 0, result.stdout + result.stderr


# --- TLS ended at a proxy that redirects and sends HSTS itself -----------------------------------


def silenced_checks(env: dict[str, str]) -> list[str]:
    result = manage(env, "shell", "-c", "from django.conf import settings; print(settings.SILENCED_SYSTEM_CHECKS)")
    assert result.returncode == 0, result.stderr
    return eval(result.stdout.strip().splitlines()[-1])  # noqa: S307 - a list literal printed by our own subprocess


def test_switching_off_the_redirect_and_hsts_still_warns_without_tls_at_proxy(production_env):
    production_env.update(DJANGO_SECURE_SSL_REDIRECT="0", DJANGO_SECURE_HSTS_SECONDS="0")
    result = check_deploy(production_env)
    assert result.returncode != 0
    assert "security.W008" in result.stderr + result.stdout
    assert "security.W004" in result.stderr + result.stdout


def test_tls_at_proxy_mode_passes_check_deploy(production_env):
    production_env["DJANGO_TLS_AT_PROXY"] = "1"
    result = check_deploy(production_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    assert silenced_checks(production_env) == ["security.W008", "security.W004"]


def test_tls_at_proxy_silences_only_what_is_switched_off(production_env):
    production_env.update(DJANGO_TLS_AT_PROXY="1", DJANGO_SECURE_SSL_REDIRECT="1")
    assert silenced_checks(production_env) == ["security.W004"]
    production_env.update(DJANGO_SECURE_SSL_REDIRECT="0", DJANGO_SECURE_HSTS_SECONDS="31536000")
    assert silenced_checks(production_env) == ["security.W008"]


# --- database connections (issue 20) ------------------------------------------------------------

READ_DATABASES = (
    "shell",
    "-c",
    "import json; from django.conf import settings; "
    "print(json.dumps({k: {o: v.get(o) for o in ('CONN_MAX_AGE', 'CONN_HEALTH_CHECKS', 'OPTIONS', 'TEST')} "
    "for k, v in settings.DATABASES.items()}, default=str)); print(settings.DATABASE_ROUTERS)",
)


def _databases(env) -> tuple[dict, str]:
    import json

    result = manage(env, *READ_DATABASES)
    assert result.returncode == 0, result.stderr
    first, routers = result.stdout.strip().splitlines()[-2:]
    return json.loads(first), routers


def test_production_keeps_connections_with_health_checks_by_default(production_env):
    databases, _routers = _databases(production_env)
    assert databases["default"]["CONN_MAX_AGE"] == 60 and databases["default"]["CONN_HEALTH_CHECKS"] is True
    production_env["DJANGO_CONN_MAX_AGE"] = "0"
    assert _databases(production_env)[0]["default"]["CONN_MAX_AGE"] == 0


def test_postgresql_gets_prepared_statements_and_a_replica_alias(production_env):
    production_env["DATABASE_URL"] = "postgres://crm@db.example.com:5432/loyalty"
    production_env["DATABASE_REPLICA_URL"] = "postgres://crm@replica.example.com:5432/loyalty"
    databases, routers = _databases(production_env)
    assert databases["default"]["OPTIONS"] == {"server_side_binding": True, "prepare_threshold": 2}
    assert databases["replica"]["TEST"]["MIRROR"] == "default"
    assert databases["replica"]["OPTIONS"] == databases["default"]["OPTIONS"]
    assert "loyalty_crm.db_routing.ReplicaRouter" in routers
