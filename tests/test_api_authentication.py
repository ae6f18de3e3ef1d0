"""The API's token authentication (loyalty_crm.api.authentication): DRF's answers, in fewer queries."""

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from loyalty_crm.api.authentication import load_permissions
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


def test_a_request_costs_two_queries_for_authentication_and_permissions(store_staff):
    client = client_for(store_staff)
    client.get(TIERS)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(TIERS).status_code == 200
    auth = [q["sql"] for q in queries.captured_queries if "auth" in q["sql"]]
    assert len(auth) == 2, auth
