"""Admin: "Classify now" on the classification page, for managers and marketing, in place of the
advice to run `manage.py classify_members`: the nightly task's work, on demand."""

import pytest
from django.contrib.messages import get_messages

from campaigns import tasks
from campaigns.models import ClassificationRun, MemberScore
from tests.members import factories

pytestmark = pytest.mark.django_db

PAGE = "/admin/campaigns/memberscore/"
CLASSIFY_NOW = "/admin/campaigns/memberscore/classify-now/"


@pytest.fixture
def shop(db):
    member = factories.member(name="林晓燕")
    factories.purchase(member, total="520.00", ref="POS-1")
    factories.member(name="陈静")
    return member


def test_the_page_without_a_run_offers_the_button_instead_of_a_command(client, marketing, shop):
    client.force_login(marketing)
    body = client.get(PAGE).content.decode()
    assert CLASSIFY_NOW in body
    assert "manage.py classify_members" not in body


@pytest.mark.parametrize("role", ["marketing", "manager"])
def test_classify_now_classifies_every_member_and_says_so(client, request, role, shop):
    client.force_login(request.getfixturevalue(role))
    response = client.post(CLASSIFY_NOW)
    assert response.status_code == 302 and response.url == PAGE
    run = ClassificationRun.objects.get()
    assert run.members == 2 and MemberScore.objects.count() == 2
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert message.startswith("Classified 2 members as of ") and "segments were recounted" in message
    assert "class-chart" in client.get(PAGE).content.decode()


@pytest.mark.parametrize("role", ["store_staff", "support"])
def test_classify_now_is_refused_to_roles_without_the_scores(client, request, role, shop):
    client.force_login(request.getfixturevalue(role))
    assert client.post(CLASSIFY_NOW).status_code == 403
    assert not ClassificationRun.objects.exists()


def test_classify_now_needs_a_post(client, marketing, shop):
    client.force_login(marketing)
    assert client.get(CLASSIFY_NOW).status_code == 405
    assert not ClassificationRun.objects.exists()


def test_a_big_shop_is_classified_by_a_worker(client, marketing, shop, settings, monkeypatch):
    settings.CLASSIFY_NOW_INLINE_MAX_MEMBERS = 1
    queued = []
    monkeypatch.setattr(tasks.classify_members, "delay", lambda *args, **kwargs: queued.append(args))
    client.force_login(marketing)
    response = client.post(CLASSIFY_NOW)
    assert response.status_code == 302
    assert queued == [()]
    assert not ClassificationRun.objects.exists()  # the worker does it, not the request
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert "queued" in message
