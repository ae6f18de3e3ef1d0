"""The real client IP behind trusted reverse proxies, for the form's and the API's rate limits."""

import pytest
from django.core.cache import cache
from django.test import RequestFactory

from feedback.api.views import FeedbackThrottle
from feedback.models import Ticket
from feedback.netaddr import client_ip

PROXY = "10.0.0.5"


def request(remote, forwarded=None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_without_trusted_proxies_forwarded_for_is_ignored(settings):
    settings.TRUSTED_PROXIES = []
    assert client_ip(request("203.0.113.7", "1.2.3.4")) == "203.0.113.7"


def test_behind_a_trusted_proxy_the_right_most_untrusted_address_is_the_client(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24", "192.168.1.1"]
    assert client_ip(request(PROXY, "203.0.113.7")) == "203.0.113.7"
    # The client forged "1.2.3.4"; our proxies appended what they saw; the rightmost untrusted wins.
    assert client_ip(request(PROXY, "1.2.3.4, 203.0.113.7, 192.168.1.1")) == "203.0.113.7"


def test_forged_header_from_an_untrusted_client_is_ignored(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    assert client_ip(request("198.51.100.9", "10.0.0.7, 1.2.3.4")) == "198.51.100.9"


def test_only_proxies_in_the_chain_gives_the_left_most_proxy(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    assert client_ip(request(PROXY, "10.0.0.9")) == "10.0.0.9"
    assert client_ip(request(PROXY)) == PROXY


def test_garbage_in_the_chain_stops_at_the_last_good_address(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    assert client_ip(request(PROXY, "not-an-ip, 10.0.0.8")) == "10.0.0.8"
    assert client_ip(request(PROXY, "203.0.113.7:5123")) == "203.0.113.7"


def test_ipv6_proxies_and_clients(settings):
    settings.TRUSTED_PROXIES = ["2001:db8::/64"]
    assert client_ip(request("2001:db8::1", "2001:db8:1::42, 2001:db8::2")) == "2001:db8:1::42"


# --- applied to the form and the API -----------------------------------------------------------


@pytest.fixture
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


def form_post(client, forwarded):
    data = {"kind": "praise", "message": "很好", "website": ""}
    return client.post("/feedback/", data, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded)


@pytest.mark.django_db
@pytest.mark.usefixtures("_clean_cache")
def test_form_rate_limit_counts_real_clients_behind_the_proxy(client, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    settings.FEEDBACK_FORM_RATE = (1, 600)
    assert form_post(client, "203.0.113.1").status_code == 302
    assert form_post(client, "203.0.113.1").status_code == 429
    assert form_post(client, "203.0.113.2").status_code == 302  # another customer, same proxy
    # A customer cannot escape the limit by writing their own X-Forwarded-For entry.
    assert form_post(client, "9.9.9.9, 203.0.113.1").status_code == 429


@pytest.mark.django_db
@pytest.mark.usefixtures("_clean_cache")
def test_form_rate_limit_ignores_forged_header_without_trusted_proxies(client, settings):
    settings.TRUSTED_PROXIES = []
    settings.FEEDBACK_FORM_RATE = (1, 600)
    data = {"kind": "praise", "message": "很好", "website": ""}
    assert (
        client.post("/feedback/", data, REMOTE_ADDR="198.51.100.9", HTTP_X_FORWARDED_FOR="1.1.1.1").status_code == 302
    )
    assert (
        client.post("/feedback/", data, REMOTE_ADDR="198.51.100.9", HTTP_X_FORWARDED_FOR="2.2.2.2").status_code == 429
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("_clean_cache")
def test_api_throttle_uses_the_real_client_ip(api_anon, settings, monkeypatch):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    monkeypatch.setattr(FeedbackThrottle, "rate", "1/hour")

    def post(remote, forwarded):
        return api_anon.post(
            "/api/v1/feedback/",
            {"kind": "praise", "message": "好"},
            format="json",
            REMOTE_ADDR=remote,
            HTTP_X_FORWARDED_FOR=forwarded,
        )

    assert post(PROXY, "203.0.113.1").status_code == 201
    assert post(PROXY, "203.0.113.1").status_code == 429
    assert post(PROXY, "203.0.113.2").status_code == 201
    # Untrusted client: its forged header changes nothing (DRF alone would have believed it).
    assert post("198.51.100.9", "5.5.5.5").status_code == 201
    assert post("198.51.100.9", "6.6.6.6").status_code == 429
    assert Ticket.objects.count() == 3
