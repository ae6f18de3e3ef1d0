"""Members' important dates: the service's rules and consent, staff's inline on the member page,
the member centre page (/m/dates/) and the API (/api/v1/me/important-dates/), and erasure."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from members import services
from members.models import ConsentEvent, ImportantDate
from members.services.dates import MAX_DATES
from tests.conftest import token_client
from tests.members import factories
from tests.members.centre_helpers import member_api, member_client

pytestmark = pytest.mark.django_db
API = "/api/v1/me/important-dates/"


@pytest.fixture
def member():
    return factories.member(name="王小明", consents={"marketing_sms": True})


def test_a_date_needs_the_data_processing_consent_or_grants_it(member):
    with pytest.raises(ValidationError) as error:
        services.add_important_date(member=member, kind="anniversary", month=5, day=20)
    assert "consent" in error.value.message_dict
    made = services.add_important_date(member=member, kind="anniversary", month=5, day=20, year=2019, consent=True)
    assert (made.month, made.day, made.year, made.display_label) == (5, 20, "2019", "Anniversary")
    event = ConsentEvent.objects.get(member=member, topic="data_processing")
    assert event.granted and event.source == "admin"


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"kind": "custom", "month": 5, "day": 20}, "label"),
        ({"kind": "anniversary", "month": 4, "day": 31}, "day"),
        ({"kind": "anniversary", "month": 13, "day": 1}, "month"),
        ({"kind": "anniversary", "month": 2, "day": 29, "year": 2023}, "day"),
        ({"kind": "anniversary", "month": 2, "day": 1, "year": 1800}, "year"),
        ({"kind": "wedding", "month": 2, "day": 1}, "kind"),
        ({"kind": "custom", "label": "x" * 61, "month": 2, "day": 1}, "label"),
    ],
)
def test_bad_dates_name_the_field(member, fields, key):
    with pytest.raises(ValidationError) as error:
        services.add_important_date(member=member, consent=True, **fields)
    assert key in error.value.message_dict


def test_29_february_without_a_year_is_allowed_and_the_count_is_capped(member):
    services.add_important_date(member=member, kind="partner_birthday", month=2, day=29, consent=True)
    for day in range(1, MAX_DATES):
        services.add_important_date(member=member, kind="custom", label=f"日子{day}", month=3, day=day)
    with pytest.raises(ValidationError):
        services.add_important_date(member=member, kind="custom", label="太多", month=4, day=1)


def test_the_year_and_label_are_encrypted_at_rest(member):
    made = services.add_important_date(member=member, kind="custom", label="妈妈生日", month=9, day=9, year=1960,
                                       consent=True)  # fmt: skip
    with connection.cursor() as cursor:
        table = ImportantDate._meta.db_table  # a model's name, not input
        cursor.execute(f"SELECT label, year FROM {table} WHERE id = %s", [made.pk])  # noqa: S608
        label, year = cursor.fetchone()
    assert "妈妈" not in label and "1960" not in year


def test_erasure_deletes_the_dates(member):
    services.add_important_date(member=member, kind="anniversary", month=5, day=20, consent=True)
    services.erase_member(member=member)
    assert not ImportantDate.objects.filter(member=member).exists()


def test_staff_add_a_date_on_the_member_page(client, store_staff, member):
    client.force_login(store_staff)
    url = f"/admin/members/member/{member.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200 and "importantdate" in page.content.decode().lower()
    form = page.context["adminform"].form
    data = {name: ("" if value is None else value) for name, value in form.initial.items()}
    for formset in page.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        for name in management.fields:
            data[f"{management.prefix}-{name}"] = 0 if name == "TOTAL_FORMS" else management.initial.get(name, 0)
    prefix = next(f.formset.prefix for f in page.context["inline_admin_formsets"] if f.formset.model is ImportantDate)
    data.update({f"{prefix}-TOTAL_FORMS": "1", f"{prefix}-0-kind": "anniversary", f"{prefix}-0-month": "5",
                 f"{prefix}-0-day": "20", f"{prefix}-0-year": "", f"{prefix}-0-label": ""})  # fmt: skip
    response = client.post(url, data)
    assert response.status_code == 200  # the consent question comes back
    assert not ImportantDate.objects.exists()
    data[f"{prefix}-0-consent"] = "on"
    response = client.post(url, data)
    assert response.status_code == 302, [fs.formset.errors for fs in response.context["inline_admin_formsets"]]
    assert ImportantDate.objects.get(member=member).month == 5


def test_the_member_adds_and_removes_a_date_in_the_member_centre(member):
    client = member_client(member)
    page = client.get("/m/dates/")
    assert page.status_code == 200 and "我的纪念日" in page.content.decode()
    response = client.post("/m/dates/", {"kind": "anniversary", "month": "5", "day": "20", "year": "", "label": ""})
    assert response.status_code == 400  # consent not ticked
    response = client.post("/m/dates/", {"kind": "anniversary", "month": "5", "day": "20", "consent": "on"})
    assert response.status_code == 302
    made = ImportantDate.objects.get(member=member)
    assert ConsentEvent.objects.get(member=member, topic="data_processing").source == "member_centre"
    other = factories.member(name="别人")
    theirs = services.add_important_date(member=other, kind="anniversary", month=1, day=1, consent=True)
    assert client.post(f"/m/dates/{theirs.pk}/delete/").status_code == 404
    assert client.post(f"/m/dates/{made.pk}/delete/").status_code == 302
    assert not ImportantDate.objects.filter(member=member).exists()


def test_the_dates_page_runs_a_fixed_number_of_queries(member):
    client = member_client(member)
    services.add_important_date(member=member, kind="anniversary", month=5, day=20, consent=True)
    client.get("/m/dates/")
    with CaptureQueriesContext(connection) as few:
        client.get("/m/dates/")
    for day in range(1, 6):
        services.add_important_date(member=member, kind="custom", label=f"日子{day}", month=6, day=day)
    with CaptureQueriesContext(connection) as many:
        client.get("/m/dates/")
    assert len(many) == len(few)


def test_the_api_lists_adds_and_deletes(member):
    api = member_api(member)
    assert api.get(API).json() == {"count": 0, "next": None, "previous": None, "results": [],
                                   "data_processing_consent": False}  # fmt: skip
    refused = api.post(API, {"kind": "anniversary", "month": 5, "day": 20}, format="json")
    assert refused.status_code == 400 and "consent" in refused.json()
    bad = api.post(API, {"kind": "anniversary", "month": 4, "day": 31, "consent": True}, format="json")
    assert bad.status_code == 400 and "day" in bad.json()
    made = api.post(API, {"kind": "partner_birthday", "month": 8, "day": 8, "year": 1990, "consent": True},
                    format="json")  # fmt: skip
    assert made.status_code == 201
    assert made.json() | {"id": 0} == {"id": 0, "kind": "partner_birthday", "label": "Partner's birthday",
                                       "month": 8, "day": 8, "year": 1990}  # fmt: skip
    listed = api.get(API).json()
    assert listed["count"] == 1 and listed["data_processing_consent"] is True
    assert api.delete(f"{API}{made.json()['id']}/").status_code == 204
    assert api.delete(f"{API}{made.json()['id']}/").status_code == 404


def test_a_staff_token_is_refused(manager):
    assert token_client(manager).get(API).status_code in (401, 403)
