"""Admin sign-in lockout (loyalty_crm/login_lockout.py, django-axes): per user and per address,
explained in the staff's language, lifted by time, by a success (own failures) or by a manager."""

import datetime

import pytest
import time_machine
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from loyalty_crm.roles import MANAGER, STORE_STAFF
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
SHOP = "203.0.113.10"
PROXY = "10.0.0.2"


def sign_in(client, username, password, address=SHOP, **extra):
    return client.post(
        LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=address, **extra
    )


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def fail(client, username, times, address=SHOP, **extra):
    for _ in range(times):
        response = sign_in(client, username, "wrong-password", address, **extra)
        assert response.status_code in (200, 429)
    return response


def test_five_wrong_passwords_lock_the_account_even_for_the_right_password_in_chinese():
    make_user("clerk", STORE_STAFF)
    client = Client()
    for _ in range(4):
        assert sign_in(client, "clerk", "wrong", **ZH).status_code == 200  # the form again
    fifth = sign_in(client, "clerk", "wrong", **ZH)
    assert fifth.status_code == 429
    response = sign_in(client, "clerk", "pw-clerk", **ZH)
    assert response.status_code == 429
    assert not signed_in(client)
    text = response.content.decode()
    assert "登录已锁定" in text and "15 分钟" in text and "经理" in text
    assert response["Retry-After"] == str(15 * 60)


def test_the_lockout_page_in_english():
    make_user("clerk", STORE_STAFF)
    client = Client()
    fail(client, "clerk", 5, **EN)
    response = sign_in(client, "clerk", "pw-clerk", **EN)
    assert response.status_code == 429 and not signed_in(client)
    text = response.content.decode()
    assert "Sign-in locked" in text and "15 minutes" in text and "ask a manager" in text


def test_four_wrong_passwords_then_the_right_one_signs_in_and_clears_the_count():
    make_user("clerk", STORE_STAFF)
    client = Client()
    fail(client, "clerk", 4)
    assert sign_in(client, "clerk", "pw-clerk").status_code == 302
    assert signed_in(client)
    assert not AccessAttempt.objects.filter(username="clerk").exists()
    # The count starts again: four more failures do not lock the account.
    other = Client()
    fail(other, "clerk", 4)
    assert sign_in(other, "clerk", "pw-clerk").status_code == 302


def test_the_user_lock_holds_from_any_address():
    make_user("clerk", STORE_STAFF)
    fail(Client(), "clerk", 5, address="198.51.100.1")
    client = Client()
    assert sign_in(client, "clerk", "pw-clerk", address="198.51.100.2").status_code == 429
    assert not signed_in(client)


def test_another_user_at_the_same_address_has_its_own_count():
    make_user("clerk", STORE_STAFF)
    make_user("cashier", STORE_STAFF)
    fail(Client(), "clerk", 5)
    client = Client()
    assert sign_in(client, "cashier", "pw-cashier").status_code == 302  # the shop is not locked out
    assert signed_in(client)
    fail(Client(), "cashier", 5)
    locked = Client()
    assert sign_in(locked, "cashier", "pw-cashier").status_code == 429
    assert not signed_in(locked)


def test_many_usernames_from_one_address_lock_the_address(settings):
    make_user("manager", MANAGER)
    for name in ("a1", "a2", "a3", "a4"):  # 4 × 4 + 3 = 19 failures, no username at 5
        fail(Client(), name, 4)
    fail(Client(), "a5", 3)
    assert sign_in(Client(), "manager", "pw-manager").status_code == 302  # 19: still open
    fail(Client(), "a5", 1)  # the 20th failure from this address
    client = Client()
    assert sign_in(client, "manager", "pw-manager").status_code == 429
    assert not signed_in(client)
    # Elsewhere the manager signs in.
    assert sign_in(Client(), "manager", "pw-manager", address="198.51.100.7").status_code == 302


def test_a_right_password_does_not_clear_the_addresss_failures_for_other_usernames():
    make_user("insider", STORE_STAFF)
    for name in ("b1", "b2", "b3", "b4"):
        fail(Client(), name, 4)
    assert sign_in(Client(), "insider", "pw-insider").status_code == 302
    fail(Client(), "b5", 4)  # 16 + 4 = 20 failures of other usernames
    client = Client()
    assert sign_in(client, "insider", "pw-insider").status_code == 429


def test_the_lockout_ends_after_fifteen_minutes():
    make_user("clerk", STORE_STAFF)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        fail(Client(), "clerk", 5)
    with time_machine.travel(start + datetime.timedelta(minutes=14), tick=False):
        assert sign_in(Client(), "clerk", "pw-clerk").status_code == 429  # also restarts the wait
    with time_machine.travel(start + datetime.timedelta(minutes=29, seconds=1), tick=False):
        client = Client()
        assert sign_in(client, "clerk", "pw-clerk").status_code == 302
        assert signed_in(client)


def test_a_forged_forwarded_for_does_not_dodge_the_address_lock(settings):
    settings.TRUSTED_PROXIES = [PROXY]
    make_user("manager", MANAGER)
    for number in range(20):  # each try claims another client address
        sign_in(Client(), f"c{number % 4}", "wrong", address="198.51.100.9", HTTP_X_FORWARDED_FOR=f"1.1.1.{number}")
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"198.51.100.9"}
    assert sign_in(Client(), "manager", "pw-manager", address="198.51.100.9").status_code == 429


def test_behind_a_trusted_proxy_the_real_client_is_counted(settings):
    settings.TRUSTED_PROXIES = [PROXY]
    make_user("clerk", STORE_STAFF)
    fail(Client(), "ghost", 4, address=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.50")
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == ["203.0.113.50"]


def test_managers_see_and_lift_lockouts_in_the_admin():
    make_user("clerk", STORE_STAFF)
    fail(Client(), "clerk", 5)
    manager_client = Client()
    manager_client.force_login(make_user("manager", MANAGER))
    changelist = manager_client.get(reverse("admin:axes_accessattempt_changelist"))
    assert changelist.status_code == 200 and "clerk" in changelist.content.decode()
    attempt = AccessAttempt.objects.get(username="clerk")
    response = manager_client.post(reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"})
    assert response.status_code == 302
    client = Client()
    assert sign_in(client, "clerk", "pw-clerk").status_code == 302


def test_store_staff_cannot_see_sign_in_attempts():
    staff_client = Client()
    staff_client.force_login(make_user("clerk", STORE_STAFF))
    assert staff_client.get(reverse("admin:axes_accessattempt_changelist")).status_code == 403


def test_no_password_is_kept_in_the_attempts():
    fail(Client(), "clerk", 1)
    assert "wrong-password" not in AccessAttempt.objects.get().post_data
    assert User.objects.filter(username="clerk").count() == 0


@pytest.mark.django_db
def test_the_nightly_task_prunes_sign_in_log_rows_older_than_the_retention(settings):
    from axes.models import AccessFailureLog, AccessLog
    from django_celery_beat.models import PeriodicTask

    from loyalty_crm.tasks import prune_signin_logs

    settings.SIGNIN_LOG_RETENTION_DAYS = 90
    now = timezone.now()
    for days in (91, 89):
        AccessLog.objects.create(username=f"u{days}", ip_address=SHOP, user_agent="", attempt_time=now)
        AccessFailureLog.objects.create(username=f"u{days}", ip_address=SHOP, user_agent="", locked_out=False)
    # attempt_time is set on insert (auto_now_add): age the rows afterwards.
    for model in (AccessLog, AccessFailureLog):
        for days in (91, 89):
            model.objects.filter(username=f"u{days}").update(attempt_time=now - datetime.timedelta(days=days))

    assert prune_signin_logs() == 2

    assert list(AccessLog.objects.values_list("username", flat=True)) == ["u89"]
    assert list(AccessFailureLog.objects.values_list("username", flat=True)) == ["u89"]
    task = PeriodicTask.objects.get(task="loyalty_crm.prune_signin_logs")
    assert task.enabled and task.crontab is not None
