"""Email tracking: the signed open pixel and click redirects; tampering gets 404, never a redirect."""

import re

import pytest
from django.core import mail

from campaigns.models import MessageEngagement
from tests.campaigns.helpers import campaign, drain, launched, member, no_quiet_hours

pytestmark = pytest.mark.django_db


def sent_email():
    no_quiet_hours()
    member(email_consent=True)
    made = launched(campaign(channel="email", body="新品上市：https://shop.example.com/new?a=1 快来看"))
    drain()
    html = mail.outbox[0].alternatives[0][0]
    return made, mail.outbox[0], html


def test_links_are_tracked_and_redirect_only_to_the_message_url(client):
    _made, email, html = sent_email()
    assert "https://shop.example.com/new?a=1" not in email.body  # the text part links through the redirect
    click = re.search(r"http://[^/]+(/c/c/[^/\s]+/)", email.body).group(1)
    assert f'href="http://127.0.0.1:8000{click}"' in html or click in html
    response = client.get(click)
    assert response.status_code == 302 and response["Location"] == "https://shop.example.com/new?a=1"
    client.get(click)
    engagement = MessageEngagement.objects.get()
    assert engagement.clicked_url == "https://shop.example.com/new?a=1"
    assert engagement.opened_at is not None  # a click is an open too
    first = engagement.clicked_at
    engagement.refresh_from_db()
    assert engagement.clicked_at == first  # the first click is kept


def test_open_pixel_records_the_first_open(client):
    _made, _email, html = sent_email()
    pixel = re.search(r'src="http://[^/]+(/c/o/[^"]+\.gif)"', html).group(1)
    response = client.get(pixel)
    assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    opened = MessageEngagement.objects.get().opened_at
    client.get(pixel)
    assert MessageEngagement.objects.get().opened_at == opened


@pytest.mark.parametrize("mangle", [lambda t: t[:-2] + "xx", lambda t: "x" + t, lambda t: "abc"])
def test_tampered_tokens_get_404_and_no_redirect(client, mangle):
    _made, email, html = sent_email()
    click = re.search(r"/c/c/([^/\s]+)/", email.body).group(1)
    pixel = re.search(r"/c/o/([^\"]+)\.gif", html).group(1)
    assert client.get(f"/c/c/{mangle(click)}/").status_code == 404
    assert client.get(f"/c/o/{mangle(pixel)}.gif").status_code == 404
    assert not MessageEngagement.objects.exists()


def test_a_token_signed_for_another_purpose_is_refused(client):
    from django.core import signing

    made, _email, _html = sent_email()
    message_id = made.outbox_messages.get().pk
    forged = signing.dumps({"m": message_id, "u": "https://evil.example.com/"}, salt="campaigns.unsubscribe")
    assert client.get(f"/c/c/{forged}/").status_code == 404
    evil_scheme = signing.dumps({"m": message_id, "u": "javascript:alert(1)"}, salt="campaigns.tracking.click")
    assert client.get(f"/c/c/{evil_scheme}/").status_code == 404
