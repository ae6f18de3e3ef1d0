"""The API's token authentication (loyalty_crm.api.authentication): DRF's answers, in fewer queries."""

import datetime

import pytest
import time_machine
from django.contrib.auth.models import Group, Permission, User
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from loyalty_crm.api.authentication import bad_token_key, load_permissions
from loyalty_crm.roles import STORE_STAFF

pytestmark = pytest.mark.django_db

TIERS = "/api/v1/tiers/"


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def test_an_unknown_key_is_refused_with_drfs_message():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    response = client.get(TIERS)
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid token."


def test_an_inactive_user_is_refused():
    user = User.objects.create_user("gone", is_active=False)
    user.groups.add(Group.objects.get(name=STORE_STAFF))
    response = client_for(user).get(TIERS)
    assert response.status_code == 401
    assert response.json()["detail"] == "User inactive or deleted."


def test_permissions_come_from_groups_and_from_the_user():
    user = User.objects.create_user("clerk")
    client = client_for(user)
    assert client.get(TIERS).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_tier", content_type__app_label="rewards"))
    assert client.get(TIERS).status_code == 200  # read fresh on every request
    user.user_permissions.clear()
    assert client.get(TIERS).status_code == 403
    user.groups.add(Group.objects.get(name=STORE_STAFF))
    assert client.get(TIERS).status_code == 200


def test_loaded_permissions_equal_model_backends():
    user = User.objects.create_user("both")
    user.groups.add(Group.objects.get(name=STORE_STAFF))
    user.user_permissions.add(Permission.objects.get(codename="adjust_points"))
    fresh = User.objects.get(pk=user.pk)
    assert load_permissions(user) == fresh.get_all_permissions()
    assert "rewards.adjust_points" in load_permissions(user)


def test_a_superuser_has_every_permission():
    user = User.objects.create_superuser("root", password="unused-pass-123")
    assert client_for(user).get(TIERS).status_code == 200


def test_a_request_costs_one_query_for_authentication_and_permissions(store_staff):
    client = client_for(store_staff)
    client.get(TIERS)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(TIERS).status_code == 200
    auth = [q["sql"] for q in queries.captured_queries if "auth" in q["sql"]]
    # The token, its user and the permissions in one query on PostgreSQL (issue 20); two elsewhere.
    assert len(auth) == (1 if connection.vendor == "postgresql" else 2), auth


def test_the_permissions_read_with_the_token_are_the_model_backends(store_staff):
    from loyalty_crm import _sql

    store_staff.user_permissions.add(Permission.objects.get(codename="adjust_points"))
    (user,) = _sql.users_with_token(Token.objects.get_or_create(user=store_staff)[0].key, with_permissions=True)
    if connection.vendor == "postgresql":
        assert set(user.token_permissions) == User.objects.get(pk=store_staff.pk).get_all_permissions()
    else:
        assert user.token_permissions is None


# --- bad tokens are throttled per client address ------------------------------------------------


@pytest.fixture
def own_cache(settings):
    """The counts in this process's memory: a shared Redis may be flushed by a test running in
    another worker at the same moment."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tokens"}}


def fresh_count(address: str) -> str:
    """Forget what an earlier test left for this address and window."""
    cache.delete(bad_token_key(address))
    return address


def bad_token_get(address: str, key: str = "f" * 40, **extra):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get(TIERS, REMOTE_ADDR=address, **extra)


def test_repeated_bad_tokens_get_401_then_429_with_retry_after(settings, own_cache):
    settings.API_BAD_TOKEN_RATE = (3, 600)
    with time_machine.travel(datetime.datetime(2026, 12, 1, 10, 2, tzinfo=datetime.UTC), tick=False):
        fresh_count("203.0.113.61"), fresh_count("203.0.113.62")
        assert [bad_token_get("203.0.113.61").status_code for _ in range(3)] == [401, 401, 401]
        throttled = bad_token_get("203.0.113.61")
        assert throttled.status_code == 429
        assert throttled["Retry-After"] == str(8 * 60 + 1)  # until the 10-minute window ends
        assert "invalid token" in throttled.json()["detail"]
        assert bad_token_get("203.0.113.62").status_code == 401  # another address has its own count
    with time_machine.travel(datetime.datetime(2026, 12, 1, 10, 10, 1, tzinfo=datetime.UTC), tick=False):
        fresh_count("203.0.113.61")
        assert bad_token_get("203.0.113.61").status_code == 401  # the next window


def test_a_good_token_from_a_throttled_address_still_works(settings, own_cache, store_staff):
    settings.API_BAD_TOKEN_RATE = (2, 600)
    with time_machine.travel(datetime.datetime(2026, 12, 1, 11, 0, tzinfo=datetime.UTC), tick=False):
        fresh_count("203.0.113.63")
        for _ in range(3):
            bad_token_get("203.0.113.63")
        assert bad_token_get("203.0.113.63").status_code == 429
        good = Token.objects.create(user=store_staff).key
        assert bad_token_get("203.0.113.63", key=good).status_code == 200


def test_a_forged_forwarded_for_does_not_dodge_the_token_throttle(settings, own_cache):
    settings.API_BAD_TOKEN_RATE = (2, 600)
    settings.TRUSTED_PROXIES = ["10.0.0.2"]
    with time_machine.travel(datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC), tick=False):
        fresh_count("203.0.113.64")
        answers = [bad_token_get("203.0.113.64", HTTP_X_FORWARDED_FOR=f"1.1.1.{n}").status_code for n in range(3)]
        assert answers == [401, 401, 429]
