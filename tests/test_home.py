"""The admin home page as a workspace per role (loyalty_crm.home): which panels each role gets, what
they show on a small shop, the find-member box, and a fixed number of queries per role's page that
does not grow with more members, campaigns or tickets."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Automation, Campaign, OutboxMessage
from campaigns.services.segments import save_segment
from feedback.models import SurveyResponse, Ticket
from loyalty_crm.home import workspaces_for
from loyalty_crm.roles import MANAGER, STORE_STAFF, SUPPORT
from members import services as member_services
from members.models import ServiceRecord, StaffProfile
from rewards.services.grants import grant_points
from tests.campaigns import helpers as campaign_helpers
from tests.campaigns.event_helpers import event
from tests.feedback import factories as ticket_factories
from tests.members import factories

pytestmark = pytest.mark.django_db

_tokens = itertools.count(1)


def _survey(kind: str, score: int, at: datetime.datetime | None = None) -> None:
    response = SurveyResponse.objects.create(kind=kind, token_id=f"{kind}:home-{next(_tokens)}", score=score)
    if at is not None:
        SurveyResponse.objects.filter(pk=response.pk).update(created_at=at)


def _member_with_dates(store, name: str, today: datetime.date):
    member = factories.member(name=name, home_store=store, birthday=datetime.date(1990, today.month, today.day))
    soon = today + datetime.timedelta(days=3)
    member_services.add_important_date(member=member, kind="anniversary", month=soon.month, day=soon.day, consent=True)
    return member


def _ticket(support, *, due_in: datetime.timedelta | None, warn_in: datetime.timedelta | None = None) -> Ticket:
    made = ticket_factories.ticket()
    now = timezone.now()
    Ticket.objects.filter(pk=made.pk).update(
        assignee=support,
        first_response_due=None if due_in is None else now + due_in,
        first_response_warn_at=None if warn_in is None else now + warn_in,
        resolution_due=None,
        resolution_warn_at=None,
    )
    return made


def _running_campaign(name: str, segment=None) -> Campaign:
    made = campaign_helpers.campaign(name=name, segment=segment)
    Campaign.objects.filter(pk=made.pk).update(status=Campaign.Status.SENDING, started_at=timezone.now())
    return made


@pytest.fixture
def shop(store_staff, support):
    """One store with a member whose birthday is today and anniversary in three days, an open
    service request, an event today, three tickets of support (breached, about to breach, on time),
    answers to the surveys, a running campaign with messages, a segment and a birthday greeting."""
    today = timezone.localdate()
    sh = factories.store("sh-001", "上海店", "上海")
    bj = factories.store("bj-001", "北京店", "北京")
    StaffProfile.objects.create(user=store_staff, store=sh)
    ann = _member_with_dates(sh, "林安", today)
    _member_with_dates(bj, "赵北", today)  # another store's: never on the Shanghai staff's page
    factories.purchase(ann, total="300.00", store=sh, ordered_at=timezone.now() - datetime.timedelta(minutes=5))
    grant_points(member=ann, points=300, reason="home page test")
    member_services.add_service_record(member=ann, kind="repair", summary="花瓶", store=sh)
    event(title="周末插花课", starts_in=datetime.timedelta(minutes=1), store=sh)
    _ticket(support, due_in=-datetime.timedelta(hours=1))
    _ticket(support, due_in=datetime.timedelta(minutes=10), warn_in=-datetime.timedelta(minutes=5))
    _ticket(support, due_in=datetime.timedelta(hours=5), warn_in=datetime.timedelta(hours=4))
    _survey("csat", 4)
    _survey("csat", 5)
    _survey("nps", 10)
    segment = save_segment(name="玫瑰买家", rules={})
    campaign = _running_campaign("五月促销", segment)
    step = campaign.steps.first() or campaign.steps.create(number=1)
    OutboxMessage.objects.create(
        campaign=campaign, step=step, member=ann, channel="sms", status=OutboxMessage.Status.DELIVERED,
        sent_at=timezone.now(), sending_at=timezone.now(),
    )  # fmt: skip
    birthday = Automation.objects.get(kind=Automation.Kind.BIRTHDAY)
    Automation.objects.filter(pk=birthday.pk).update(
        enabled=True, campaign=_running_campaign("生日祝福"), days_before=3
    )
    return {"sh": sh, "bj": bj, "ann": ann, "campaign": campaign}


def _page(client, user):
    client.force_login(user)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    return response


def _panel(response, key):
    return next(p for p in response.context["home_panels"] if p.key == key).context


# --- who gets which panels ----------------------------------------------------------------------


def test_each_role_gets_its_own_workspace(store_staff, support, marketing, manager, superuser):
    assert workspaces_for(store_staff) == ["store_staff"]
    assert workspaces_for(support) == ["support"]
    assert workspaces_for(marketing) == ["marketing"]
    assert workspaces_for(manager) == ["manager"]
    assert workspaces_for(superuser) == ["store_staff", "support", "marketing", "manager"]


def test_a_user_in_several_groups_gets_each_panel_in_the_fixed_order(db):
    user = User.objects.create_user("both", password="pw", is_staff=True)
    user.groups.add(
        Group.objects.get(name=MANAGER), Group.objects.get(name=STORE_STAFF), Group.objects.get(name=SUPPORT)
    )
    assert workspaces_for(user) == ["store_staff", "support", "manager"]


def test_a_user_without_a_role_sees_the_app_list_and_no_panel(client, db):
    user = User.objects.create_user("intern", password="pw", is_staff=True)
    response = _page(client, user)
    assert response.context["home_panels"] == []
    assert 'id="all-apps"' in response.text and "data-panel" not in response.text


# --- store staff --------------------------------------------------------------------------------


def test_store_staff_see_their_stores_birthdays_dates_service_requests_and_events(client, store_staff, shop):
    response = _page(client, store_staff)
    panel = _panel(response, "store_staff")
    assert panel["store"] == shop["sh"]
    assert [d.name for d in panel["birthdays"]] == ["林安"]
    assert [(d.name, d.kind, d.on) for d in panel["important_dates"]] == [
        ("林安", "anniversary", timezone.localdate() + datetime.timedelta(days=3))
    ]
    assert panel["service_count"] == 1 and panel["service_records"][0].member == shop["ann"]
    assert [e.title for e in panel["events"]] == ["周末插花课"]
    text = response.text
    assert "赵北" not in text  # Beijing's member
    assert shop["ann"].phone not in text and shop["ann"].phone[-4:] in text  # masked, as in lists
    assert reverse("admin:till") in text and 'action="/admin/home/find-member/"' in text
    assert 'class="counter-links"' not in text  # the panel's big button replaces the counter links
    assert reverse("admin:members_member_change", args=[shop["ann"].pk]) in text


def test_store_staff_without_a_store_are_told_to_ask_for_one_but_keep_the_find_box(client, store_staff, db):
    response = _page(client, store_staff)
    panel = _panel(response, "store_staff")
    assert panel["no_store"] is True and "birthdays" not in panel
    assert "Ask a manager to set your store" in response.text and "home-find-q" in response.text


def test_the_find_box_opens_one_member_lists_several_and_says_when_none(client, store_staff, shop):
    client.force_login(store_staff)
    find = reverse("admin:home_find_member")
    ann = shop["ann"]
    # A card scanned (the member number), a phone in any format, the last four digits.
    for term in (ann.member_no, ann.member_no.lower(), ann.phone, ann.phone[-4:]):
        response = client.post(find, {"q": term})
        assert response.status_code == 302, term
        assert response.url == reverse("admin:members_member_change", args=[ann.pk]), term
    other = factories.member(name="林安二", phone="+861391234" + ann.phone[-4:], home_store=shop["sh"])
    response = client.post(find, {"q": ann.phone[-4:]})
    assert response.url.startswith(reverse("admin:members_member_changelist") + "?member_no__in=")
    listed = client.get(response.url)
    assert listed.status_code == 200
    assert {m.pk for m in listed.context["cl"].result_list} == {ann.pk, other.pk}
    response = client.post(find, {"q": "没有这个人"}, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("admin:index")
    assert "No member found" in response.text and "没有这个人" not in response.text
    assert all("没有这个人" not in url for url, _status in response.redirect_chain)
    assert client.get(find, {"q": ann.phone}).status_code == 405  # a phone is never put in a URL
    assert client.post(find, {"q": ""}).url == reverse("admin:index")
    assert client.post(find, {"q": "x" * 5000}).status_code == 302  # cut to 64 characters, never a 5xx


def test_the_find_box_is_refused_to_users_who_may_not_see_members(client, db):
    user = User.objects.create_user("intern", password="pw", is_staff=True)
    client.force_login(user)
    assert client.post(reverse("admin:home_find_member"), {"q": "1234"}).status_code == 403


# --- support ------------------------------------------------------------------------------------


def test_support_see_the_queue_by_sla_state_their_tickets_and_satisfaction(client, support, shop):
    response = _page(client, support)
    panel = _panel(response, "support")
    counts = panel["counts"]
    assert (counts.open, counts.breached, counts.about_to_breach, counts.on_time) == (3, 1, 1, 1)
    assert [(state, count) for state, _label, count, _url in panel["queue"]] == [
        ("breached", 1), ("about_to_breach", 1), ("on_time", 1),
    ]  # fmt: skip
    assert "/admin/feedback/ticket/?queue=breached" in response.text
    assert panel["mine_count"] == 3
    assert panel["mine"][0].first_response_due < panel["mine"][1].first_response_due  # the most urgent first
    csat, nps = panel["satisfaction"]
    assert (csat["this"], csat["answers"], csat["last"]) == (Decimal("4.50"), 2, None)
    assert (nps["this"], nps["answers"]) == (Decimal("100.0"), 1)


# --- marketing ----------------------------------------------------------------------------------


def test_marketing_see_running_campaigns_segments_automations_and_budget(client, marketing, shop):
    response = _page(client, marketing)
    panel = _panel(response, "marketing")
    assert [row["campaign"].name for row in panel["campaigns"]] == ["五月促销"]  # not the automation's
    row = panel["campaigns"][0]
    assert (row["results"].accepted, row["results"].delivered) == (1, 1)
    assert [s.name for s in panel["segments"]] == ["玫瑰买家"] and panel["segments"][0].size == 2
    runs = panel["next_runs"]
    assert [run.automation.kind for run in runs] == ["birthday"]
    today = timezone.localdate()
    assert runs[0].on == today and runs[0].target == today + datetime.timedelta(days=3)
    sms = next(b for b in panel["budget"] if b["channel"] == "sms")
    assert sms["used"] == 1
    assert "五月促销" in response.text and "玫瑰买家" in response.text


def test_marketing_empty_states_say_what_to_do(client, marketing, db):
    response = _page(client, marketing)
    assert "No campaigns running" in response.text and reverse("admin:campaigns_campaign_add") in response.text
    assert "No segments yet" in response.text


# --- manager ------------------------------------------------------------------------------------


def test_manager_see_kpis_with_charts_liability_and_member_share(client, manager, shop):
    factories.store("gz-001", "广州店", "广州")
    response = _page(client, manager)
    panel = _panel(response, "manager")
    assert [k["key"] for k in panel["kpis"]] == ["repurchase", "complaints", "satisfaction"]
    assert response.text.count('class="kpi-chart"') == 3
    satisfaction = panel["kpis"][2]
    assert satisfaction["this"] == Decimal("4.50")
    assert panel["sales"].members.orders == 1 and panel["member_share"] == Decimal("100.0")
    assert panel["liability"].points == 300
    assert panel["stored_value"] is not None
    assert "Key figures · all stores" in response.text  # the dashboard stays
    assert 'id="all-apps"' in response.text and "app-members" in response.text


# --- queries ------------------------------------------------------------------------------------


def _count(client) -> int:
    cache.clear()  # cold: the cached figures computed again (loyalty_crm.home.cached_figures)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("admin:index")).status_code == 200
    return len(queries)


def _grow(shop, support, n: int = 12) -> None:
    """More members of the store with dates and service requests, tickets, campaigns, segments."""
    today = timezone.localdate()
    for i in range(n):
        member = _member_with_dates(shop["sh"], f"会员{i}", today)
        factories.purchase(member, total="88.00", store=shop["sh"])
        member_services.add_service_record(member=member, kind="delivery", summary="送花", store=shop["sh"])
        _ticket(support, due_in=datetime.timedelta(hours=i - 3))
        _running_campaign(f"活动{i}")
        save_segment(name=f"分群{i}", rules={})
        event(title=f"活动课{i}", starts_in=datetime.timedelta(minutes=2 + i), store=shop["sh"])
        _survey("csat", 3)


# Measured on PostgreSQL, with a campaign that sent messages (the lifts' three queries run): session,
# user, groups, 2 permission, the dashboard's 5 figures and recent actions (10), plus the panel's
# store staff 8 (profile, store, events, birthdays, dates, 2 service records), support 4 (queue,
# my tickets and their count, satisfaction), marketing 11 (2 campaigns, results, 3 lifts, 2
# segments, policy, budget, automations), manager 14 (4 service KPIs, KPI targets, repurchase,
# marketing targets, 3 points liability, 2 member share, 2 stored value).
BOUNDS = {"store_staff": 18, "support": 15, "marketing": 22, "manager": 25}


@pytest.mark.parametrize("role", list(BOUNDS))
def test_each_roles_page_runs_a_fixed_number_of_queries(client, shop, role, request, django_assert_max_num_queries):
    user = request.getfixturevalue(role)
    client.force_login(user)
    client.get(reverse("admin:index"))  # warm the process-wide caches (content types, site settings)
    cache.clear()  # but compute the home page's figures again
    with django_assert_max_num_queries(BOUNDS[role]):
        assert client.get(reverse("admin:index")).status_code == 200


@pytest.mark.parametrize("role", list(BOUNDS))
def test_the_query_count_does_not_grow_with_members_campaigns_or_tickets(client, shop, support, role, request):
    user = request.getfixturevalue(role)
    client.force_login(user)
    _count(client)
    few = _count(client)
    _grow(shop, support)
    # Not more (an N+1 would add a query per row); fewer is possible: the campaigns listed after the
    # growth have sent nothing, so the lifts stop after their first query.
    assert _count(client) <= few


def test_the_superusers_page_holds_every_panel_in_a_fixed_number_of_queries(client, superuser, shop, support):
    client.force_login(superuser)
    _count(client)
    few = _count(client)
    _grow(shop, support, n=5)
    assert _count(client) <= few
    assert [p.key for p in _page(client, superuser).context["home_panels"]] == [
        "store_staff", "support", "marketing", "manager",
    ]  # fmt: skip


def test_service_records_of_the_store_are_counted_open_or_in_progress_only(client, store_staff, shop):
    member_services.add_service_record(
        member=shop["ann"], kind="repair", summary="done", store=shop["sh"], status=ServiceRecord.Status.DONE
    )
    assert _panel(_page(client, store_staff), "store_staff")["service_count"] == 1


def test_the_slow_figures_are_shared_for_a_few_minutes_then_computed_again(client, manager, shop):
    client.force_login(manager)
    cold = _count(client)
    with CaptureQueriesContext(connection) as queries:
        first = client.get(reverse("admin:index"))
    # the dashboard's 5 figures and the manager's 14 come from the cache
    assert len(queries) == cold - 5 - 14
    assert "Figures as of" in first.text
    factories.purchase(factories.member(name="新会员"), total="50.00")
    assert _panel(client.get(reverse("admin:index")), "manager")["sales"].members.orders == 1  # not yet
    cache.clear()  # as when FIGURES_SECONDS have passed
    assert _panel(client.get(reverse("admin:index")), "manager")["sales"].members.orders == 2


def test_the_find_box_answers_400_to_a_nul_never_a_database_error(client, store_staff, db):
    client.force_login(store_staff)
    assert client.post(reverse("admin:home_find_member"), {"q": "12\x0034"}).status_code == 400


# --- the beat task that keeps the shared figures warm (loyalty_crm.tasks.refresh_home_figures) ---


def _queries(client) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("admin:index")).status_code == 200
    return [q["sql"] for q in queries.captured_queries]


@pytest.mark.parametrize("role", ["store_staff", "support", "marketing", "manager", "superuser"])
def test_after_the_refresh_task_no_page_request_computes_a_shared_figure(client, shop, role, request):
    from loyalty_crm.tasks import refresh_home_figures

    user = request.getfixturevalue(role)
    client.force_login(user)
    cold = _count(client)
    warm = len(_queries(client))  # the figures from the cache, the lists read live
    assert warm < cold
    cache.clear()  # as when FIGURES_SECONDS have passed
    assert refresh_home_figures() > 0
    after = _queries(client)
    assert len(after) == warm
    # Not one of the figures' reads: purchases (revenue, repurchase, member share), survey answers.
    assert not [sql for sql in after if '"members_purchase"' in sql or '"feedback_surveyresponse"' in sql]


def test_the_refresh_stores_what_a_page_would_compute(client, manager, shop):
    from loyalty_crm.home import refresh_shared_figures

    client.force_login(manager)
    cache.clear()
    page = _panel(_page(client, manager), "manager")
    cache.clear()
    keys = refresh_shared_figures()
    today = timezone.localdate()
    assert {f"manager:{today}", f"satisfaction:{today}", f"dashboard:{today}:all"} <= set(keys)
    assert f"dashboard:{today}:{shop['sh'].pk}" in keys and f"dashboard:{today}:{shop['bj'].pk}" in keys
    warm = _panel(_page(client, manager), "manager")
    assert [(k["key"], k["this"], k["last"], k["goal"]) for k in warm["kpis"]] == [
        (k["key"], k["this"], k["last"], k["goal"]) for k in page["kpis"]
    ]
    assert warm["sales"] == page["sales"] and warm["liability"] == page["liability"]


def test_the_refresh_runs_one_at_a_time_and_is_scheduled_before_the_figures_expire(db):
    from django_celery_beat.models import PeriodicTask

    from loyalty_crm.home import FIGURES_SECONDS, REFRESH_SECONDS
    from loyalty_crm.tasks import refresh_home_figures

    cache.clear()
    cache.add("home:refreshing", "1")  # another run still working
    assert refresh_home_figures() == 0
    assert cache.get(f"home:manager:{timezone.localdate()}") is None
    cache.delete("home:refreshing")
    assert refresh_home_figures() > 0
    assert cache.get("home:refreshing") is None  # released
    task = PeriodicTask.objects.get(task="loyalty_crm.refresh_home_figures")
    assert task.enabled and task.interval.every * {"seconds": 1, "minutes": 60}[task.interval.period] == REFRESH_SECONDS
    assert REFRESH_SECONDS < FIGURES_SECONDS
