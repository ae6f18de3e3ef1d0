"""The request logs never carry a phone number or an email in clear (loyalty_crm.logredact)."""

from __future__ import annotations

import datetime
import io
import logging
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from django.conf import settings

from loyalty_crm.logredact import redact

PHONE = "13800138000"


@contextmanager
def captured(logger_name: str):
    """What the handlers configured by settings.LOGGING write for `logger_name`, as text."""
    logger, handlers = logging.getLogger(logger_name), []
    while logger is not None:
        handlers += logger.handlers
        logger = logger.parent if logger.propagate else None
    streams = []
    for handler in handlers:
        if type(handler) is logging.StreamHandler:  # not pytest's capturing handlers
            # Not setStream(): it flushes the old stream, which may be an earlier test's closed capture.
            streams.append((handler, handler.stream))
            handler.stream = io.StringIO()
    assert streams, f"no stream handler configured for {logger_name}"
    out = SimpleNamespace(text="")
    try:
        yield out
    finally:
        for handler, old in streams:
            out.text += handler.stream.getvalue()
            handler.stream = old


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '"GET /api/v1/members/?phone=13800138000&page=2 HTTP/1.1" 200 12',
            '"GET /api/v1/members/?phone=***&page=2 HTTP/1.1" 200 12',
        ),
        ("/api/v1/members/?email=zhang%40example.com", "/api/v1/members/?email=***"),
        ("/admin/members/member/?q=%2B86+138+0013+8000", "/admin/members/member/?q=***"),
        ("/api/v1/members/?search=%E5%BC%A0%E4%BC%9F&tier=gold", "/api/v1/members/?search=***&tier=gold"),
        ("phone=13800138000", "phone=***"),
        ("Not Found: /api/v1/members/13800138000/", "Not Found: /api/v1/members/***/"),
        ("sent to zhang@example.com", "sent to ***"),
        ("caller +86 138-0013-8000 asked", "caller *** asked"),
        ("M13800138000 bought", "M13800138000 bought"),  # a member number is not a phone
        # secrets in URLs: the SMS receipt hooks' shared token, WeChat's one-time OAuth code
        (
            '"POST /hooks/sms/aliyun/?token=s3cr3t-Receipt HTTP/1.1" 200 2',
            '"POST /hooks/sms/aliyun/?token=*** HTTP/1.1" 200 2',
        ),
        ("/m/wechat/callback/?code=061abcDEF&state=xyz", "/m/wechat/callback/?code=***&state=xyz"),
        ('[06/Dec/2026 07:36:03] "GET /api/v1/members/?page=2 HTTP/1.1" 200 1234', None),
    ],
)
def test_redact_replaces_contact_data_and_leaves_the_rest(text, expected):
    assert redact(text) == (text if expected is None else expected)


def test_every_configured_handler_redacts():
    for name, handler in settings.LOGGING["handlers"].items():
        assert "redact" in handler.get("filters", []), name


@pytest.mark.django_db
def test_a_request_with_a_phone_in_the_url_is_logged_without_it(api_staff):
    with captured("django.request") as log:
        response = api_staff.get(f"/api/v1/members/{PHONE}/", {"phone": PHONE, "email": "zhang@example.com"})

    assert response.status_code == 404
    assert "Not Found: /api/v1/members/***/" in log.text
    assert PHONE not in log.text and "zhang@example.com" not in log.text


def test_the_development_server_access_log_is_redacted():
    # What django.core.servers.basehttp.WSGIRequestHandler.log_message writes for each request.
    with captured("django.server") as log:
        logging.getLogger("django.server").info(
            '"%s" %s %s',
            f"GET /api/v1/members/?phone={PHONE}&search=zhang%40example.com HTTP/1.1",
            "200",
            "512",
            extra={"request": None, "server_time": "06/Dec/2026 08:00:00", "status_code": 200},
        )

    assert '"GET /api/v1/members/?phone=***&search=*** HTTP/1.1" 200 512' in log.text
    assert PHONE not in log.text


def test_gunicorn_access_log_atoms_are_redacted():
    from gunicorn.config import Config

    from loyalty_crm.gunicorn_logging import RedactingLogger

    config = Config()
    config.set("logger_class", "loyalty_crm.gunicorn_logging.RedactingLogger")
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/api/v1/members/?phone={PHONE}",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "PATH_INFO": "/api/v1/members/",
        "QUERY_STRING": f"phone={PHONE}",
        "HTTP_REFERER": "https://crm.example.com/admin/members/member/?q=zhang%40example.com",
        "REMOTE_ADDR": "203.0.113.7",
    }
    response = SimpleNamespace(status="200 OK", sent=10, headers=[])
    atoms = RedactingLogger(config).atoms(response, SimpleNamespace(headers=[]), environ, datetime.timedelta(0))

    assert atoms["r"] == "GET /api/v1/members/?phone=*** HTTP/1.1"
    assert atoms["q"] == "phone=***"
    assert atoms["f"] == "https://crm.example.com/admin/members/member/?q=***"
    assert atoms["h"] == "203.0.113.7"


def test_gunicorn_uses_the_redacting_logger_from_the_project_config():
    from pathlib import Path

    namespace: dict = {}
    exec((Path(settings.BASE_DIR) / "gunicorn.conf.py").read_text(), namespace)  # noqa: S102

    assert namespace["logger_class"] == "loyalty_crm.gunicorn_logging.RedactingLogger"
