"""Admin: time-to-breach badges, the SLA queues, filters, bulk assignment, SLA/KPI screens by role."""

import datetime

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from feedback import services
from feedback.models import KpiTarget, SlaTarget, Team, Ticket
from tests.feedback.factories import ticket
from tests.members import factories as mf

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/feedback/ticket/"
KPI_PAGE = "/admin/feedback/servicekpi/"
H = datetime.timedelta(hours=1)


def logged_in(client, user):
    client.force_login(user)
    return client


def aged(hours: float, **kwargs) -> Ticket:
    with time_machine.travel(timezone.now() - datetime.timedelta(hours=hours), tick=False):
        return ticket(**kwargs)


def test_changelist_query_count_is_fixed_with_queues_badges_and_teams(client, support):
    logged_in(client, support)
    shop = mf.store()
    team = Team.objects.create(name="一线", lead=support)

    def add(count):
        for i in range(count):
            made = aged(i % 6, store=shop)
            Ticket.objects.filter(pk=made.pk).update(assignee=support, team=team)

    add(3)
    urls = [CHANGELIST, f"{CHANGELIST}?queue=breached", f"{CHANGELIST}?queue=about_to_breach", f"{CHANGELIST}?age=1d"]
    few = {}
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        few[url] = len(queries)
    add(27)
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        assert len(queries) == few[url], url


def test_changelist_shows_a_red_overdue_badge_for_breached_tickets(client, support):
    late = aged(5)  # web form: first response due after 4 h
    fresh = aged(0)
    text = logged_in(client, support).get(CHANGELIST).content.decode()
    assert text.count("sla-badge sla-breached") == 1 and "Overdue 1 h" in text and "−1 h" not in text
    assert text.count("sla-badge sla-ok") == 1
    assert late.ticket_no in text and fresh.ticket_no in text


def test_badge_is_amber_inside_the_warning_window(client, support):
    aged(3.5)  # due in 30 min; warning window is the last hour
    text = logged_in(client, support).get(CHANGELIST).content.decode()
    assert "sla-badge sla-warning" in text


def test_change_page_shows_time_to_breach_and_the_deadlines(client, support):
    made = aged(5)
    text = logged_in(client, support).get(f"{CHANGELIST}{made.pk}/change/").content.decode()
    assert "sla-badge sla-breached" in text and "field-first_response_due" in text


def test_queue_about_to_breach_and_breached(client, support):
    calm, soon, late = aged(0), aged(3.5), aged(5)
    logged_in(client, support)
    text = client.get(CHANGELIST, {"queue": "about_to_breach"}).content.decode()
    assert soon.ticket_no in text and calm.ticket_no not in text and late.ticket_no not in text
    text = client.get(CHANGELIST, {"queue": "breached"}).content.decode()
    assert late.ticket_no in text and soon.ticket_no not in text and calm.ticket_no not in text


def test_filters_by_age_store_kind_and_priority(client, support):
    shop = mf.store("gz-001", "广州店")
    old = aged(80, kind="praise", store=shop)
    new = aged(1, kind="complaint")
    services.update_ticket(ticket=new, actor=support, priority="urgent")
    logged_in(client, support)
    text = client.get(CHANGELIST, {"age": "3d"}).content.decode()
    assert old.ticket_no in text and new.ticket_no not in text
    text = client.get(CHANGELIST, {"age": "today"}).content.decode()
    assert new.ticket_no in text and old.ticket_no not in text
    text = client.get(CHANGELIST, {"store__id__exact": shop.pk}).content.decode()
    assert old.ticket_no in text and new.ticket_no not in text
    text = client.get(CHANGELIST, {"kind__exact": "complaint", "priority__exact": "urgent"}).content.decode()
    assert new.ticket_no in text and old.ticket_no not in text


def bulk(client, action, tickets, **extra):
    return client.post(CHANGELIST, {"action": action, "_selected_action": [t.pk for t in tickets], **extra})


def test_bulk_assign_to_a_user_and_to_a_team(client, manager, support):
    made = [ticket(), ticket()]
    team = Team.objects.create(name="投诉组", lead=manager)
    logged_in(client, manager)
    assert bulk(client, "assign_to_user", made, assign_user=support.pk).status_code == 302
    assert bulk(client, "assign_to_team", made, assign_team=team.pk).status_code == 302
    for one in made:
        one.refresh_from_db()
        assert (one.assignee, one.team) == (support, team)
        assert one.events.filter(
            kind="update", body_params__changes__contains=[{"field": "team", "new": "投诉组"}]
        ).exists()


def test_bulk_assign_without_a_choice_changes_nothing(client, manager):
    made = ticket()
    logged_in(client, manager)
    response = bulk(client, "assign_to_team", [made], assign_team="")
    assert response.status_code == 302
    made.refresh_from_db()
    assert made.team is None and made.events.count() == 1
    messages = [str(m) for m in client.get(CHANGELIST).context["messages"]]
    assert any("team" in m for m in messages)


def test_store_staff_cannot_bulk_assign(client, store_staff, support):
    made = ticket()
    logged_in(client, store_staff)
    bulk(client, "assign_to_user", [made], assign_user=support.pk)
    made.refresh_from_db()
    assert made.assignee is None


def test_changing_priority_on_the_change_page_recomputes_the_deadline(client, support):
    made = aged(0)
    data = {
        "kind": made.kind, "priority": "urgent", "assignee": "", "team": "", "new_status": "", "reply": "",
        "internal_note": "", "_save": "Save", "events-TOTAL_FORMS": "0", "events-INITIAL_FORMS": "0",
    }  # fmt: skip
    assert logged_in(client, support).post(f"{CHANGELIST}{made.pk}/change/", data).status_code == 302
    made.refresh_from_db()
    assert made.first_response_due == made.created_at + H


# --- SLA targets, teams, KPI targets by role ---------------------------------------------------


def test_support_sees_sla_targets_but_cannot_change_them(client, support):
    target = SlaTarget.objects.get(kind="", channel="", priority="")
    logged_in(client, support)
    assert client.get("/admin/feedback/slatarget/").status_code == 200
    response = client.post(
        f"/admin/feedback/slatarget/{target.pk}/change/",
        {"kind": "", "channel": "", "priority": "", "first_response": "00:01:00", "resolution": "01:00:00"},
    )
    assert response.status_code == 403
    target.refresh_from_db()
    assert target.first_response == 4 * H


def test_manager_edits_an_sla_target_and_new_tickets_follow_it(client, manager):
    target = SlaTarget.objects.get(kind="", channel="", priority="")
    response = logged_in(client, manager).post(
        f"/admin/feedback/slatarget/{target.pk}/change/",
        {"kind": "", "channel": "", "priority": "", "first_response": "02:00:00", "resolution": "1 00:00:00"},
    )
    assert response.status_code == 302
    made = ticket()
    assert made.first_response_due == made.created_at + 2 * H


def test_manager_sets_a_kpi_target_and_is_recorded_as_setter(client, manager):
    response = logged_in(client, manager).post(
        "/admin/feedback/kpitarget/add/",
        {"metric": "complaint_rate", "store": "", "baseline_month": "2026-03-15", "change_percent": "-30"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    target = KpiTarget.objects.get()
    assert target.set_by == manager and target.baseline_month == datetime.date(2026, 3, 1)


def test_kpi_target_without_value_or_change_is_refused_in_the_admin(client, manager):
    response = logged_in(client, manager).post("/admin/feedback/kpitarget/add/", {"metric": "csat", "store": ""})
    assert response.status_code == 200 and KpiTarget.objects.count() == 0


@pytest.mark.parametrize("path", ["/admin/feedback/kpitarget/add/", "/admin/feedback/team/add/"])
def test_support_cannot_add_kpi_targets_or_teams(client, support, path):
    assert logged_in(client, support).get(path).status_code == 403


def test_manager_creates_a_team(client, manager, support):
    response = logged_in(client, manager).post(
        "/admin/feedback/team/add/", {"name": "售后一组", "lead": manager.pk, "members": [support.pk]}
    )
    assert response.status_code == 302
    assert list(Team.objects.get().members.all()) == [support]


# --- the KPI page ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["support", "manager"])
def test_kpi_page_shows_six_charts_to_support_and_managers(client, role, request):
    ticket(kind="complaint", store=mf.store())
    user = request.getfixturevalue(role)
    response = logged_in(client, user).get(KPI_PAGE)
    text = response.content.decode()
    assert response.status_code == 200
    assert text.count('<svg class="kpi-chart"') == 6
    assert "https://" not in text.split("<svg")[0].split("</head>")[0]  # no CDN assets


@pytest.mark.parametrize("role", ["store_staff", "marketing"])
def test_kpi_page_is_forbidden_to_store_staff_and_marketing(client, role, request):
    assert logged_in(client, request.getfixturevalue(role)).get(KPI_PAGE).status_code == 403


def test_kpi_page_redirects_anonymous_to_login(client):
    response = client.get(KPI_PAGE)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_kpi_page_draws_the_target_line(client, manager):
    KpiTarget.objects.create(metric="csat", target_value=4)
    text = logged_in(client, manager).get(KPI_PAGE).content.decode()
    assert text.count('class="kpi-target"') == 1


def test_kpi_page_store_filter_and_query_count(client, manager):
    shops = [mf.store(f"s-{i}", f"店{i}") for i in range(3)]
    logged_in(client, manager)
    ticket(store=shops[0])
    with CaptureQueriesContext(connection) as few:
        assert client.get(KPI_PAGE, {"store": shops[0].pk}).status_code == 200
    for _i in range(25):
        ticket(store=shops[0], kind="complaint")
    with CaptureQueriesContext(connection) as many:
        response = client.get(KPI_PAGE, {"store": shops[0].pk})
    assert len(many) == len(few)
    assert f'value="{shops[0].pk}" selected' in response.content.decode()


def test_kpi_csv_export(client, manager):
    shop = mf.store("cd-001", "成都店")
    ticket(kind="complaint", store=shop)
    response = logged_in(client, manager).get(KPI_PAGE, {"format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = response.content.decode("utf-8-sig").splitlines()
    assert rows[0].startswith("store,month,tickets,complaints,purchases,complaint_rate_per_100")
    this_month = timezone.localdate().strftime("%Y-%m")
    assert any(row.startswith(f"成都店,{this_month},1,1,0,") for row in rows)
    assert len(rows) == 1 + 12 * 2  # all stores + 成都店, 12 months each
    one = client.get(KPI_PAGE, {"format": "csv", "store": shop.pk}).content.decode("utf-8-sig").splitlines()
    assert len(one) == 13


def test_csv_export_is_forbidden_to_store_staff(client, store_staff):
    assert logged_in(client, store_staff).get(KPI_PAGE, {"format": "csv"}).status_code == 403


def test_admin_index_links_the_kpi_page_for_support(client, support):
    assert KPI_PAGE in logged_in(client, support).get("/admin/").content.decode()


def test_survey_responses_are_read_only_in_the_admin(client, manager):
    logged_in(client, manager)
    assert client.get("/admin/feedback/surveyresponse/").status_code == 200
    assert client.get("/admin/feedback/surveyresponse/add/").status_code == 403


def test_breach_notification_reaches_the_team_lead_set_in_the_admin(client, manager):
    lead = User.objects.create_user("lead", email="lead@example.com", is_staff=True)
    team = Team.objects.create(name="值班", lead=lead)
    made = aged(5)
    services.assign_tickets(tickets=[made], actor=manager, team=team)
    from django.core import mail

    services.flag_sla_breaches()
    assert [m.to for m in mail.outbox] == [["lead@example.com"]]


def test_kpi_csv_neutralises_formula_like_store_names(client, manager):
    ticket(store=mf.store("x-001", "=HYPERLINK(1)"))
    rows = logged_in(client, manager).get(KPI_PAGE, {"format": "csv"}).content.decode("utf-8-sig").splitlines()
    assert any(row.startswith("'=HYPERLINK(1)") for row in rows)
    assert not any(row.startswith("=") for row in rows)
