"""The member centre's purchases and feedback pages (/m/purchases/, /m/feedback/) and the signed
"give feedback on this purchase" link to the public form."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from feedback import services as feedback_services
from feedback.models import Ticket
from feedback.prefill import purchase_token
from loyalty_crm.centre import profile_data
from tests.feedback import factories as ticket_factories
from tests.members import factories
from tests.members.centre_helpers import member_client
from tests.rewards.helpers import post

pytestmark = pytest.mark.django_db


@pytest.fixture
def member():
    return factories.member(name="王小明", phone="13800138000")


@pytest.fixture
def other():
    return factories.member(name="李四", phone="13900139000")


def _feedback_link(html: str) -> str:
    return unescape(re.search(r'href="(/feedback/\?purchase=[^"]+)"', html).group(1))


def test_purchases_list_shows_date_store_amount_and_points_earned_from_the_ledger(member):
    store = factories.store()
    posting = post(member, "188.00", store=store)

    html = member_client(member).get("/m/purchases/").content.decode()

    assert "188.00" in html and store.name in html
    assert posting.points_earned > 0
    assert f"+{posting.points_earned}" in html
    assert f'href="/m/purchases/{posting.purchase.pk}/"' in html


def test_a_purchase_page_shows_its_lines_and_links_to_feedback_with_a_signed_value(member):
    factories.product()  # ROSE-11, "11枝红玫瑰花束": the line shows the product's name
    purchase = post(member, "99.00", store=factories.store()).purchase

    html = member_client(member).get(f"/m/purchases/{purchase.pk}/").content.decode()

    assert "11枝红玫瑰花束" in html
    link = _feedback_link(html)
    assert f"purchase={purchase.pk}&" not in link and not link.endswith(f"={purchase.pk}")


def test_another_members_purchase_is_404(member, other):
    purchase = post(other, "99.00").purchase

    assert member_client(member).get(f"/m/purchases/{purchase.pk}/").status_code == 404
    assert member_client(member).get("/m/purchases/99999999/").status_code == 404


def test_the_feedback_form_is_prefilled_from_the_signed_purchase(member):
    store = factories.store()
    purchase = post(member, "99.00", store=store).purchase
    link = _feedback_link(member_client(member).get(f"/m/purchases/{purchase.pk}/").content.decode())

    html = Client().get(link).content.decode()

    assert f'value="{member.member_no}"' in html and f'value="{purchase.external_ref}"' in html
    assert f'<option value="{store.pk}" selected>' in html


def test_feedback_sent_from_the_prefilled_form_is_linked_to_the_member_purchase_and_store(member):
    store = factories.store()
    purchase = post(member, "99.00", store=store).purchase
    token = purchase_token(purchase)

    response = Client().post(
        "/feedback/",
        # The visible fields say someone else's number: the signed purchase wins.
        {"kind": "complaint", "message": "花有点蔫", "member_no": "M000", "order_ref": "X", "purchase": token},
    )

    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert (ticket.member, ticket.purchase, ticket.store) == (member, purchase, store)


def test_a_tampered_or_foreign_prefill_value_prefills_nothing(member, other):
    purchase = post(other, "99.00").purchase
    token = purchase_token(purchase)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    for value in (tampered, str(purchase.pk), "garbage"):
        html = Client().get(f"/feedback/?purchase={value}").content.decode()
        assert other.member_no not in html and purchase.external_ref not in html


def test_my_feedback_lists_my_tickets_with_public_replies_only(member, other, support):
    mine = ticket_factories.ticket(member_no=member.member_no, message="花束送到时已经枯萎了。")
    feedback_services.add_note(ticket=mine, body="内部备注：客户很急", actor=support)
    feedback_services.reply(ticket=mine, body="非常抱歉，我们明天补送一束。", actor=support, record_only=True)
    ticket_factories.ticket(member_no=other.member_no, message="别人的工单")

    client = member_client(member)
    listing = client.get("/m/feedback/").content.decode()
    detail = client.get(f"/m/feedback/{mine.ticket_no}/").content.decode()

    assert f'href="/m/feedback/{mine.ticket_no}/"' in listing and "别人的工单" not in listing
    assert "非常抱歉，我们明天补送一束。" in detail
    assert "内部备注" not in detail


def test_another_members_ticket_is_404(member, other):
    theirs = ticket_factories.ticket(member_no=other.member_no)

    assert member_client(member).get(f"/m/feedback/{theirs.ticket_no}/").status_code == 404


@pytest.mark.parametrize("url", ["/m/purchases/", "/m/feedback/", "purchase", "ticket"])
def test_purchase_and_feedback_pages_run_a_fixed_number_of_queries(url, member, support):
    store = factories.store()
    first = post(member, "50.00", store=store).purchase
    ticket = ticket_factories.ticket(member_no=member.member_no, purchase_ref=first.external_ref)
    path = {"purchase": f"/m/purchases/{first.pk}/", "ticket": f"/m/feedback/{ticket.ticket_no}/"}.get(url, url)
    client = member_client(member)
    client.get(path)
    with CaptureQueriesContext(connection) as few:
        client.get(path)
    for index in range(8):
        post(member, f"{10 + index}.00", store=factories.store(f"s-{index}", f"店{index}"))
        ticket_factories.ticket(member_no=member.member_no)
        feedback_services.reply(ticket=ticket, body=f"回复{index}", actor=support, record_only=True)
    with CaptureQueriesContext(connection) as many:
        assert client.get(path).status_code == 200

    assert len(many) == len(few) <= 8


def test_profile_data_reads_only_the_members_own_rows(member, other):
    post(other, "10.00")

    assert profile_data.member_purchases(member) == []
    assert profile_data.member_tickets(member) == []
