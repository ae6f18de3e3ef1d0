import re

import pytest
from django.core.cache import cache
from django.urls import reverse
from PIL import Image

from feedback.models import Attachment, Ticket
from tests.feedback.helpers import bomb_png_bytes, jpeg_with_gps_bytes, png_bytes, upload

pytestmark = pytest.mark.django_db
URL = "/feedback/"
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()
    yield
    cache.clear()


def form_data(**extra):
    return {"kind": "complaint", "message": "花束送到时已经枯萎了，请处理。", "website": "", **extra}


def nothing_stored(settings):
    root = settings.MEDIA_ROOT / "feedback"
    return (
        Ticket.objects.count() == 0 and Attachment.objects.count() == 0 and not (root.exists() and any(root.iterdir()))
    )


def test_form_page_is_chinese_for_chinese_browsers(client):
    response = client.get(URL, **ZH)
    assert response.status_code == 200
    assert '<html lang="zh-hans">' in response.content.decode()
    assert 'name="csrfmiddlewaretoken"' in response.content.decode()
    assert "最多 3 张照片" in response.content.decode()  # help texts too, not only labels


def test_form_page_is_english_otherwise(client):
    response = client.get(URL, HTTP_ACCEPT_LANGUAGE="de-DE")
    assert '<html lang="en">' in response.content.decode()
    assert "Up to 3 photos" in response.content.decode()


def test_good_submission_with_photo_redirects_to_thanks_page(client, settings):
    photo = upload("花.jpg", jpeg_with_gps_bytes(), "image/jpeg")
    response = client.post(URL, form_data(email="kehu@example.com", photos=[photo]), **ZH)
    assert response.status_code == 302
    made = Ticket.objects.get()
    assert made.channel == Ticket.Channel.WEB and made.language == "zh-hans"
    assert response["Location"].startswith(f"/feedback/thanks/{made.ticket_no}/?k=")
    page = client.get(response["Location"], **ZH)
    text = page.content.decode()
    assert page.status_code == 200 and made.ticket_no in text
    assert 'data-ticket-no="' in text and "kehu@example.com" not in text
    stored = Image.open(made.attachments.get().file.path)
    assert stored.format == "JPEG" and dict(stored.getexif()) == {}


def test_thanks_page_says_how_the_customer_will_hear_back(client):
    by_mail = client.post(URL, form_data(email="kehu@example.com"), HTTP_ACCEPT_LANGUAGE="en")
    assert "by email" in client.get(by_mail["Location"]).content.decode()
    cache.clear()
    anonymous = client.post(URL, form_data(), HTTP_ACCEPT_LANGUAGE="en")
    assert "did not leave contact details" in client.get(anonymous["Location"]).content.decode()


def test_thanks_page_refuses_a_missing_or_borrowed_signature(client):
    response = client.post(URL, form_data(email="kehu@example.com"))
    mine = Ticket.objects.get().ticket_no
    token = response["Location"].split("?k=")[1]
    assert client.get(f"/feedback/thanks/{mine}/").status_code == 404
    assert client.get(f"/feedback/thanks/FB-ABCDEFGHJK/?k={token}").status_code == 404
    assert client.get(f"/feedback/thanks/{mine}/?k={token}x").status_code == 404


def assert_refused(response, settings, *fragments):
    assert response.status_code == 400
    text = response.content.decode()
    for fragment in fragments:
        assert fragment in text
    # What the customer typed is still in the form.
    assert "花束送到时已经枯萎了，请处理。" in text
    assert nothing_stored(settings)


def test_fake_image_is_refused_with_its_name(client, settings):
    response = client.post(URL, form_data(photos=[upload("收据.png", b"this is text")]))
    assert_refused(response, settings, "收据.png")


def test_decompression_bomb_is_refused(client, settings):
    response = client.post(URL, form_data(photos=[upload("bomb.png", bomb_png_bytes())]))
    assert_refused(response, settings, "bomb.png", "pixels")


def test_oversize_photo_is_refused(client, settings):
    big = upload("big.png", png_bytes() + b"\0" * (5 * 1024 * 1024))
    response = client.post(URL, form_data(photos=[big]))
    assert_refused(response, settings, "big.png", "5 MB")


def test_four_photos_are_refused(client, settings):
    photos = [upload(f"p{i}.png", png_bytes()) for i in range(4)]
    response = client.post(URL, form_data(photos=photos))
    assert_refused(response, settings, "at most 3")


def test_too_long_message_is_refused_and_kept(client, settings):
    long_text = "很" * 2001
    response = client.post(URL, form_data(message=long_text))
    assert response.status_code == 400 and long_text in response.content.decode()
    assert nothing_stored(settings)


def test_missing_message_gets_a_chinese_error(client, settings):
    response = client.post(URL, form_data(message=""), **ZH)
    assert response.status_code == 400 and "该字段是必填项" in response.content.decode()


def test_filled_honeypot_is_refused_neutrally(client, settings):
    response = client.post(URL, form_data(website="http://spam.example"))
    assert_refused(response, settings, "could not be sent")
    assert "honeypot" not in response.content.decode().lower()


def test_rate_limit_answers_429_with_retry_after(client, settings):
    settings.FEEDBACK_FORM_RATE = (2, 600)
    for _i in range(2):
        assert client.post(URL, form_data()).status_code == 302
    response = client.post(URL, form_data())
    assert response.status_code == 429
    assert int(response["Retry-After"]) in range(1, 602)
    assert Ticket.objects.count() == 2


def test_rate_limit_counts_per_ip(client, settings):
    settings.FEEDBACK_FORM_RATE = (1, 600)
    assert client.post(URL, form_data(), REMOTE_ADDR="10.0.0.1").status_code == 302
    assert client.post(URL, form_data(), REMOTE_ADDR="10.0.0.1").status_code == 429
    assert client.post(URL, form_data(), REMOTE_ADDR="10.0.0.2").status_code == 302


def test_rate_limited_submission_stores_nothing(client, settings):
    settings.FEEDBACK_FORM_RATE = (0, 600)
    response = client.post(URL, form_data(photos=[upload("p.png", png_bytes())]))
    assert response.status_code == 429 and nothing_stored(settings)


def test_form_without_csrf_token_is_refused():
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post(URL, form_data()).status_code == 403
    assert Ticket.objects.count() == 0


def test_chosen_store_is_linked(client):
    from tests.members.factories import store

    shop = store()
    client.post(URL, form_data(store=shop.pk))
    assert Ticket.objects.get().store == shop


def test_form_page_has_no_external_assets(client):
    text = client.get(URL).content.decode()
    assert not re.search(r'(src|href)="https?://', text)


def test_reverse_names():
    assert reverse("feedback:form") == URL
