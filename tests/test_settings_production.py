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
)


@pytest.fixture
def production_env(tmp_path) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in SETTINGS_VARIABLES and not name.startswith("DJANGO_")
    }
    env.update(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        FIELD_ENCRYPTION_KEY=generate_key(),
        DJANGO_ALLOWED_HOSTS="crm.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'production.sqlite3'}",
        LOYALTY_VAR_DIR=str(tmp_path / "var"),
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
