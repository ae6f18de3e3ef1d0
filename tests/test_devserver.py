"""`rundev` and `seed_demo` print the address the server really listens on (`--addr`, else
RUNDEV_ADDR, else 127.0.0.1:8000), in a form a browser opens."""

import pytest
from django.core.management import load_command_class

from loyalty_crm.devserver import admin_url


@pytest.mark.parametrize(
    ("addr", "url"),
    [
        ("127.0.0.1:8000", "http://127.0.0.1:8000/admin/"),
        ("0.0.0.0:8001", "http://127.0.0.1:8001/admin/"),
        ("[::]:8001", "http://127.0.0.1:8001/admin/"),
        ("[::1]:8003", "http://[::1]:8003/admin/"),
        ("192.168.1.20:9000", "http://192.168.1.20:9000/admin/"),
        ("8002", "http://127.0.0.1:8002/admin/"),
        ("shop.local", "http://shop.local:8000/admin/"),
    ],
)
def test_admin_url_of_each_runserver_address_form(addr, url):
    assert admin_url(addr) == url


def test_admin_url_defaults_to_rundev_addr_from_the_environment(monkeypatch):
    monkeypatch.setenv("RUNDEV_ADDR", "0.0.0.0:8010")
    assert admin_url() == "http://127.0.0.1:8010/admin/"
    monkeypatch.delenv("RUNDEV_ADDR")
    assert admin_url() == "http://127.0.0.1:8000/admin/"


@pytest.mark.parametrize("name", ["rundev", "seed_demo"])
def test_rundev_and_seed_demo_take_their_default_address_from_rundev_addr(monkeypatch, name):
    monkeypatch.setenv("RUNDEV_ADDR", "0.0.0.0:8011")
    app = {"rundev": "loyalty_crm", "seed_demo": "demo"}[name]
    parser = load_command_class(app, name).create_parser("manage.py", name)
    assert parser.parse_args([]).addr == "0.0.0.0:8011"
    assert parser.parse_args(["--addr", "127.0.0.1:9000"]).addr == "127.0.0.1:9000"


def test_rundev_prints_the_admin_address_it_serves(monkeypatch):
    import io

    from django.core.management import call_command

    from loyalty_crm.management.commands import rundev

    class Stopped:  # a child that has already exited: rundev stops at once
        def __init__(self, *args, **kwargs):
            pass

        def poll(self):
            return 0

        def wait(self, timeout=None):
            return 0

    monkeypatch.setattr(rundev.subprocess, "Popen", Stopped)
    out = io.StringIO()
    call_command("rundev", addr="0.0.0.0:8001", no_celery=True, stdout=out, stderr=io.StringIO())
    assert "Serving http://127.0.0.1:8001/admin/" in out.getvalue()
