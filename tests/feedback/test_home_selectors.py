"""The support home page's questions (feedback.selectors, feedback.kpis.satisfaction_by_month):
the queue by SLA state, one user's open tickets and the month's CSAT/NPS, on a hand-made desk."""

import datetime
import itertools
from decimal import Decimal

import pytest
from django.utils import timezone

from feedback.kpis import monthly_kpis, satisfaction_by_month
from feedback.models import SurveyResponse, Ticket
from feedback.selectors import my_open_tickets, queue_counts
from tests.feedback import factories

pytestmark = pytest.mark.django_db
NOW = timezone.now()
_tokens = itertools.count(1)


def _ticket(*, due=None, warn=None, assignee=None, status="open"):
    made = factories.ticket_in(status)
    Ticket.objects.filter(pk=made.pk).update(
        first_response_due=due, first_response_warn_at=warn, resolution_due=None, resolution_warn_at=None,
        assignee=assignee, first_response_at=None,
    )  # fmt: skip
    return Ticket.objects.get(pk=made.pk)


def test_open_tickets_are_counted_breached_about_to_breach_and_on_time(support):
    hour = datetime.timedelta(hours=1)
    _ticket(due=NOW - hour)  # breached
    _ticket(due=NOW, warn=NOW - hour)  # due this instant: breached (sla.breached_q)
    _ticket(due=NOW + hour, warn=NOW - hour)  # about to breach
    _ticket(due=NOW + 3 * hour, warn=NOW + 2 * hour)  # on time
    _ticket()  # no target: on time
    _ticket(due=NOW - hour, status="resolved")  # done: not in the queue
    counts = queue_counts(NOW)
    assert (counts.open, counts.breached, counts.about_to_breach, counts.on_time) == (5, 2, 1, 2)
    assert counts.breached == Ticket.objects.breached(NOW).count()
    assert counts.about_to_breach == Ticket.objects.about_to_breach(NOW).count()


def test_my_open_tickets_soonest_due_first_then_without_a_target(support, manager, django_assert_num_queries):
    hour = datetime.timedelta(hours=1)
    later = _ticket(due=NOW + 5 * hour, assignee=support)
    untargeted = _ticket(assignee=support)
    sooner = _ticket(due=NOW + hour, assignee=support)
    _ticket(due=NOW + hour, assignee=manager)  # someone else's
    _ticket(due=NOW + hour, assignee=support, status="closed")  # done
    with django_assert_num_queries(2):
        count, tickets = my_open_tickets(support)
    assert count == 3 and [t.pk for t in tickets] == [sooner.pk, later.pk, untargeted.pk]


def _answer(kind, score, at):
    made = SurveyResponse.objects.create(kind=kind, token_id=f"{kind}:h{next(_tokens)}", score=score)
    SurveyResponse.objects.filter(pk=made.pk).update(created_at=at)


def test_satisfaction_by_month_is_the_service_kpis_csat_and_nps(django_assert_num_queries):
    this_month = timezone.localdate().replace(day=1)
    last_month = (this_month - datetime.timedelta(days=1)).replace(day=1)
    now = timezone.now()
    in_last_month = timezone.make_aware(datetime.datetime.combine(last_month, datetime.time(12)))
    for score in (4, 5):
        _answer("csat", score, now)
    _answer("csat", 2, in_last_month)
    for score in (10, 9, 3):
        _answer("nps", score, now)
    with django_assert_num_queries(1):
        last, this = satisfaction_by_month(first_month=last_month, last_month=this_month)
    assert (this.csat_average, this.csat_count, last.csat_average) == (Decimal("4.50"), 2, Decimal("2.00"))
    assert (this.nps, this.nps_count, last.nps) == (Decimal("33.3"), 3, None)  # (2 promoters − 1) / 3
    full = monthly_kpis(first_month=last_month, last_month=this_month)
    assert [(m.csat_average, m.nps) for m in full] == [(last.csat_average, last.nps), (this.csat_average, this.nps)]
