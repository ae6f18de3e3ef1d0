"""Automations: campaigns sent by a trigger (docs/rules/campaigns.md, "Automations"); the writers.
Their default messages, template variables and settings checks are pure: `campaigns.automation_rules`.

Every automated message goes through the outbox and the contact policy like any campaign's:
`enqueue_occurrence` writes one pending outbox row per member for the occurrence's campaign step
(consent is checked there and again at send time; quiet hours, the frequency cap and the send
rate at send time), and the normal dispatch sends it. The offer (a coupon) is issued in
`before_send`, in the same transaction that marks the message `sending`, so it is issued once,
and only to members the message actually goes to.

The post-resolution satisfaction survey is a date trigger too: N days after a feedback ticket
linked to a member was resolved (read through `feedback.surveys.resolved_tickets`), once per
ticket (the occurrence is the ticket). Its `{{ survey_link }}` is a fresh single-use NPS link
(`feedback.surveys.nps_survey_link`) made in `before_send`, when the message is prepared — after the
consent check, for members the message actually goes to, so no link is made for a skipped one.

The stored-value bonus lapse reminder is a date trigger too: members holding stored-value bonus whose
lot ends from today to today + N days (read through `rewards.selectors_stored_value`), once per member
per end date (the occurrence is the date: the lots a member holds that end on one day are told in one
message, and a lot is never told twice); `{{ lapsing_bonus }}` and `{{ lapses_on }}` are read when the
message is prepared, so they say what is still left.

The important-date greeting is a date trigger too: members whose anniversary, partner's birthday or
custom date falls from today to today + N days (default 7), once per member per date; its
`{{ important_date }}` (what the date is) and `{{ important_date_on }}` are read when the message is
prepared. Holiday greetings read the shop's calendar (`members.Holiday`): one automation per
holiday, greeting from the holiday's lead days before it. Win-back greets the lapsed, or members
whose churn risk is high, or who are overdue against their own usual interval (`run_win_back`).

Date triggers run in `run_automations` (beat task "Run automations (daily)", 10:00 Asia/Shanghai);
each looks at a window of dates up to today + `days_before`, so a day the beat missed is caught up
the next day. The tier-upgrade trigger listens to `TierHistory` rows after commit.
"""

from __future__ import annotations

import calendar
import datetime
import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from campaigns import automation_rules, lock_objects, selectors
from campaigns.errors import NothingToRemind, OfferNotIssued
from campaigns.models import (
    Automation,
    AutomationOccurrence,
    Campaign,
    CampaignStep,
    ClassificationPolicy,
    OfferGrant,
    OutboxMessage,
)
from campaigns.services import outbox
from loyalty_crm import local_cache
from loyalty_crm.errors import DomainError
from members import holidays as holiday_rules
from members import selectors as member_selectors
from members.models import Holiday, Member
from rewards import selectors as rewards_selectors
from rewards import selectors_care_plans, selectors_stored_value

logger = logging.getLogger(__name__)

# --- enqueueing ---------------------------------------------------------------------------------


@transaction.atomic
def enqueue_occurrence(
    *,
    automation: Automation,
    key: str,
    on: datetime.date | None,
    members: QuerySet[Member],
    now=None,
    not_before: datetime.datetime | None = None,
) -> int:
    """Queue the automation's message for `members` under the occurrence `key`; returns how many
    rows were added. Members already queued for this occurrence are left alone (and the unique
    (step, member) would refuse them anyway), so running twice adds nothing."""
    now = now or timezone.now()
    campaign = lock_objects.campaign_for_update(automation.campaign_id)
    if campaign.status == Campaign.Status.CANCELLED:
        return 0
    occurrence = AutomationOccurrence.objects.select_related("step").filter(automation=automation, key=key).first()
    if occurrence is None:
        number = (CampaignStep.objects.filter(campaign=campaign).aggregate(n=Max("number"))["n"] or 0) + 1
        step = CampaignStep.objects.create(campaign=campaign, number=number)
        occurrence = AutomationOccurrence.objects.create(automation=automation, key=key, on=on, step=step)
    step = occurrence.step
    audience = selectors.audience_members(campaign).filter(pk__in=members.values("pk"))
    new_ids = (
        audience.exclude(Exists(OutboxMessage.objects.filter(step=step, member=OuterRef("pk"))))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    # As `start_campaign` does (`outbox.add_messages`): batched, and the clear consent refusals
    # skipped (and counted) at once.
    added = outbox.add_messages(
        step=step,
        channel=campaign.channel,
        messages=(
            OutboxMessage(
                campaign=campaign, step=step, member_id=member_id, channel=campaign.channel, not_before=not_before
            )
            for member_id in new_ids.iterator(chunk_size=outbox.INSERT_BATCH)
        ),
        now=now,
    )
    if not added:
        return 0
    if campaign.status != Campaign.Status.SENDING:
        campaign.status = Campaign.Status.SENDING
        campaign.started_at = campaign.started_at or now
        campaign.save(update_fields=["status", "started_at", "updated_at"])
    logger.info("automation %s occurrence %s: %s queued", automation.pk, key, added)
    from campaigns.services.dispatch import kick_dispatch

    transaction.on_commit(kick_dispatch)
    return added


def _days(first: datetime.date, last: datetime.date):
    day = first
    while day <= last:
        yield day
        day += datetime.timedelta(days=1)


def run_birthday(automation: Automation, today: datetime.date, now=None) -> int:
    """Members whose birthday falls from today to today + N days (29 February counts as
    28 February in a non-leap year), once per member per birthday year."""
    by_year: dict[int, Q] = {}
    for day in _days(today, today + datetime.timedelta(days=automation.days_before)):
        match = Q(birth_month=day.month, birth_day=day.day)
        if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
            match |= Q(birth_month=2, birth_day=29)
        by_year[day.year] = by_year[day.year] | match if day.year in by_year else match
    return sum(
        enqueue_occurrence(automation=automation, key=str(year), on=None, members=Member.objects.filter(match), now=now)
        for year, match in sorted(by_year.items())
    )


def run_holiday(automation: Automation, today: datetime.date, now=None) -> int:
    """Everyone in the audience, from the holiday's lead days (the calendar's, `members.Holiday`)
    before it to the day itself, once per holiday date (keyed by its year). A holiday switched off
    or gone from the calendar is not greeted."""
    holiday = Holiday.objects.filter(code=automation.holiday, is_active=True).first()
    if holiday is None:
        return 0
    try:
        date = holiday_rules.next_date(holiday, today)
    except ValueError:
        return 0
    if date - datetime.timedelta(days=holiday.lead_days) > today:
        return 0
    return enqueue_occurrence(automation=automation, key=str(date.year), on=date, members=Member.objects.all(), now=now)


def run_important_date(automation: Automation, today: datetime.date, now=None) -> int:
    """Members with an important date (anniversary, partner's birthday, custom) from today to
    today + N days, once per member per date (the occurrence is the day greeted: two members'
    anniversaries on one day share it, a member's two dates on two days are two messages). Only
    dates of members whose data-processing consent is granted (`members.selectors`)."""
    last = today + datetime.timedelta(days=automation.days_before)
    wanted = set(member_selectors.important_dates_between(today, last).values_list("month", "day").distinct())
    added = 0
    for day in _days(today, last):
        if (day.month, day.day) in wanted or (
            (day.month, day.day) == (2, 28) and not calendar.isleap(day.year) and (2, 29) in wanted
        ):
            members = member_selectors.members_with_important_date(Member.objects.all(), day, day)
            added += enqueue_occurrence(automation=automation, key=day.isoformat(), on=day, members=members, now=now)
    return added


def run_points_expiry(automation: Automation, today: datetime.date, now=None) -> int:
    """Members with points expiring from today to today + N days, once per member per month of
    expiry (rolling expiry dates would otherwise remind a frequent buyer every day)."""
    last = today + datetime.timedelta(days=automation.days_before)
    months = sorted({day.replace(day=1) for day in rewards_selectors.expiring_lot_dates(today, last)})
    added = 0
    for month in months:
        first, end = max(today, month), min(last, automation_rules.month_end(month))
        members = rewards_selectors.members_with_points_expiring(first, end)
        added += enqueue_occurrence(automation=automation, key=month.strftime("%Y-%m"), on=month, members=members,
                                    now=now)  # fmt: skip
    return added


def run_win_back(automation: Automation, today: datetime.date, now=None) -> int:
    """Win-back, once per lapse: a member already sent (or skipped for) this automation since their
    last purchase is not queued again; buying and drifting away again is a new lapse. Who drifted
    follows the automation's rule:

    - lapsed: the nightly classification found them lapsed within the last N days;
    - churn risk: their churn risk (last classification) is at least the threshold;
    - usual interval: the days since their last purchase exceed the factor × their own mean gap
      between purchases (two counted purchases at least), from the purchases as they are now.
    """
    earlier = OutboxMessage.objects.filter(
        campaign_id=automation.campaign_id,
        member=OuterRef("pk"),
        created_at__gt=OuterRef("campaign_score__last_purchase_at"),
    )
    rule = automation.win_back_rule
    if rule == Automation.WinBackRule.CHURN_RISK:
        members = Member.objects.filter(
            campaign_score__churn_risk__gte=float(automation.win_back_churn_risk),
            campaign_score__last_purchase_at__isnull=False,
        )
    elif rule == Automation.WinBackRule.USUAL_INTERVAL:
        members = Member.objects.filter(
            member_selectors.overdue_against_usual_interval(
                factor=automation.win_back_interval_factor, now=now or timezone.now()
            ),
            campaign_score__last_purchase_at__isnull=False,
        )
    else:
        policy = ClassificationPolicy.current()
        newest = policy.lapsed_after_days + max(automation.days_before, 1)
        members = Member.objects.filter(
            campaign_score__classification="lapsed", campaign_score__recency_days__lte=newest
        )
    return enqueue_occurrence(
        automation=automation, key=today.isoformat(), on=today, members=members.exclude(Exists(earlier)), now=now
    )


def run_satisfaction_survey(automation: Automation, today: datetime.date, now=None) -> int:
    """Members whose feedback ticket was resolved N days ago (or up to SURVEY_CATCH_UP_DAYS days
    earlier, not yet surveyed: `automation_rules`), once per ticket: the occurrence key is the ticket number, so a
    ticket already followed up (or reopened and resolved again) is never surveyed twice."""
    from feedback import surveys

    last = today - datetime.timedelta(days=automation.days_before)
    first = last - datetime.timedelta(days=automation_rules.SURVEY_CATCH_UP_DAYS)
    tz = timezone.get_current_timezone()
    tickets = surveys.resolved_tickets(
        start=datetime.datetime.combine(first, datetime.time.min, tzinfo=tz),
        end=datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz),
    )
    done = set(
        AutomationOccurrence.objects.filter(
            automation=automation, key__in=[ticket.ticket_no for ticket in tickets]
        ).values_list("key", flat=True)
    )
    added = 0
    for ticket in tickets:
        if ticket.ticket_no in done:
            continue
        added += enqueue_occurrence(
            automation=automation,
            key=ticket.ticket_no,
            on=timezone.localdate(ticket.resolved_at),
            members=Member.objects.filter(pk=ticket.member_id),
            now=now,
        )
    return added


def run_bonus_lapse(automation: Automation, today: datetime.date, now=None) -> int:
    """Members whose stored-value bonus lot ends from today to today + N days, once per member per
    end date (the occurrence key): a lot is told about once, however many days the window spans."""
    last = today + datetime.timedelta(days=automation.days_before)
    return sum(
        enqueue_occurrence(
            automation=automation,
            key=day.isoformat(),
            on=day,
            members=selectors_stored_value.members_with_bonus_lapsing(day, day),
            now=now,
        )
        for day in selectors_stored_value.bonus_lapse_dates(today, last)
    )


def run_care_plan_expiry(automation: Automation, today: datetime.date, now=None) -> int:
    """Members whose care plan with claims left ends from today to today + N days, once per member
    per end date (the occurrence key), read through `rewards.selectors_care_plans`."""
    last = today + datetime.timedelta(days=automation.days_before)
    return sum(
        enqueue_occurrence(
            automation=automation,
            key=day.isoformat(),
            on=day,
            members=selectors_care_plans.members_with_care_plans_ending(day),
            now=now,
        )
        for day in selectors_care_plans.care_plan_end_dates(today, last)
    )


def run_event_reminder(automation: Automation, today: datetime.date, now=None) -> int:
    """Members confirmed for an event starting from today to today + N days (1: the day before),
    not yet started; once per member per event (the occurrence is the event)."""
    from campaigns.models import Event, EventRegistration

    now = now or timezone.now()
    last = today + datetime.timedelta(days=automation.days_before)
    tz = timezone.get_current_timezone()
    end = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz)
    events = Event.objects.filter(status=Event.Status.SCHEDULED, starts_at__gt=now, starts_at__lt=end).order_by("pk")
    added = 0
    for event in events:
        confirmed = EventRegistration.objects.filter(event=event, status=EventRegistration.Status.CONFIRMED)
        added += enqueue_occurrence(
            automation=automation,
            key=f"event-{event.pk}",
            on=timezone.localdate(event.starts_at),
            members=Member.objects.filter(pk__in=confirmed.values("member_id")),
            now=now,
        )
    return added


def tell_seat_confirmed(*, event_id: int, member_ids: list[int], now=None) -> int:
    """Tell members whose waitlisted place became a seat (`campaigns.services.events`), once per
    member per event (the occurrence is the event)."""
    from campaigns.models import Event

    event = Event.objects.filter(pk=event_id).first()
    if event is None or not member_ids:
        return 0
    with transaction.atomic():
        automation = (
            Automation.objects.select_for_update().filter(kind=Automation.Kind.EVENT_SEAT, enabled=True).first()
        )
        if automation is None:
            return 0
        if automation.campaign_id is None:  # on from the start: its campaign is made on first use
            _campaign_of(automation, now or timezone.now())
            automation.save(update_fields=["campaign"])
    return enqueue_occurrence(
        automation=automation,
        key=f"seat-{event_id}",
        on=timezone.localdate(event.starts_at),
        members=Member.objects.filter(pk__in=member_ids),
        now=now,
    )


def event_variables(key: str) -> dict:
    """`{{ event_title }}`, `{{ event_starts_at }}` and `{{ event_place }}` of an event occurrence."""
    from campaigns.models import Event

    _prefix, _sep, number = key.partition("-")
    event = Event.objects.select_related("store").filter(pk=int(number) if number.isdigit() else 0).first()
    if event is None:
        return {"event_title": "", "event_starts_at": "", "event_place": ""}
    return {
        "event_title": event.title,
        "event_starts_at": timezone.localtime(event.starts_at).strftime("%Y-%m-%d %H:%M"),
        "event_place": event.address or (event.store.name if event.store else ""),
    }


RUNNERS = {
    Automation.Kind.BIRTHDAY: run_birthday,
    Automation.Kind.HOLIDAY: run_holiday,
    Automation.Kind.POINTS_EXPIRY: run_points_expiry,
    Automation.Kind.WIN_BACK: run_win_back,
    Automation.Kind.SATISFACTION_SURVEY: run_satisfaction_survey,
    Automation.Kind.BONUS_LAPSE: run_bonus_lapse,
    Automation.Kind.CARE_PLAN_EXPIRY: run_care_plan_expiry,
    Automation.Kind.EVENT_REMINDER: run_event_reminder,
    Automation.Kind.IMPORTANT_DATE: run_important_date,
}


# --- the holiday calendar: one greeting automation per holiday ----------------------------------------


def ensure_holiday_automations() -> int:
    """Make the (switched-off) greeting automation of every holiday in the calendar that has none;
    returns how many were made. Run when a holiday is saved (`on_holiday_saved`) and by the
    migration that moved automations onto the calendar; safe to run twice."""
    have = set(Automation.objects.filter(kind=Automation.Kind.HOLIDAY).values_list("holiday", flat=True))
    missing = [code for code in Holiday.objects.order_by("pk").values_list("code", flat=True) if code not in have]
    Automation.objects.bulk_create(
        [Automation(kind=Automation.Kind.HOLIDAY, holiday=code, enabled=False, days_before=0) for code in missing],
        ignore_conflicts=True,
    )
    return len(missing)


def on_holiday_saved(sender, instance, created, raw=False, **kwargs) -> None:
    """post_save of `members.Holiday`: a new holiday gets its greeting automation (switched off)."""
    if created and not raw:
        transaction.on_commit(ensure_holiday_automations)


def run_automations(*, today: datetime.date | None = None, now=None) -> dict[str, int]:
    """Evaluate every enabled date-based automation (the daily beat task); messages queued per automation."""
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    queued: dict[str, int] = {}
    enabled = Automation.objects.filter(enabled=True, campaign__isnull=False, kind__in=list(RUNNERS))
    for automation in enabled.order_by("pk"):
        queued[f"{automation.kind}:{automation.holiday}" if automation.holiday else automation.kind] = RUNNERS[
            automation.kind
        ](automation, today, now)
        Automation.objects.filter(pk=automation.pk).update(last_run_on=today)
    return queued


# --- the event trigger: tier upgrades -------------------------------------------------------------


TIER_UPGRADE_CACHE = "automations-tier-upgrade"


def _upgrade_automations():
    """The automations that congratulate tier upgrades: enabled, with a campaign (one spelling for
    `congratulates_upgrades` and `congratulate_tier_upgrade`)."""
    return Automation.objects.filter(kind=Automation.Kind.TIER_UPGRADE, enabled=True, campaign__isnull=False)


def congratulates_upgrades() -> bool:
    """Whether any automation congratulates tier upgrades, held in each process
    (`loyalty_crm.local_cache`, forgotten when an automation is saved or deleted or a campaign is
    deleted, campaigns.apps): while none does, a posting that upgrades a tier schedules nothing and
    runs no query after its commit (issue 20). `congratulate_tier_upgrade` checks again."""
    return local_cache.get(TIER_UPGRADE_CACHE, lambda: _upgrade_automations().exists())


def on_tier_history_saved(sender, instance, created, raw=False, **kwargs) -> None:
    """post_save of `rewards.TierHistory`: congratulate an upgrade once the change commits."""
    if not created or raw or instance.from_tier_id is None:
        return
    if not congratulates_upgrades():
        return
    history_id = instance.pk
    transaction.on_commit(lambda: congratulate_tier_upgrade(tier_history_id=history_id))


def congratulate_tier_upgrade(*, tier_history_id: int, now=None) -> int:
    """Queue the tier-upgrade message for an upward change (a higher rank), once per member per day."""
    from rewards.models import TierHistory

    change = TierHistory.objects.select_related("from_tier", "to_tier").filter(pk=tier_history_id).first()
    if change is None or change.from_tier is None or change.to_tier.rank <= change.from_tier.rank:
        return 0
    automation = _upgrade_automations().first()
    if automation is None:
        return 0
    day = timezone.localdate(change.at)
    try:
        return enqueue_occurrence(
            automation=automation,
            key=day.isoformat(),
            on=day,
            members=Member.objects.filter(pk=change.member_id),
            now=now,
        )
    except Exception:  # never break the purchase or re-evaluation that changed the tier
        logger.exception("tier-upgrade automation failed for tier change %s", tier_history_id)
        return 0


# --- the event triggers: sign-up and paid-membership renewal -----------------------------------------


def on_member_registered(sender, *, member, actor=None, **kwargs) -> None:
    """`members.signals.member_registered` (sent after commit): queue the welcome series."""
    welcome_member(member_id=member.pk)


def welcome_member(*, member_id: int, now=None) -> int:
    """The welcome message at once and the follow-up N days later (held by `not_before`), once
    per member ever (both occurrences have the fixed key "welcome")."""
    now = now or timezone.now()
    added = 0
    kinds = [Automation.Kind.WELCOME, Automation.Kind.WELCOME_FOLLOW_UP]
    for automation in Automation.objects.filter(kind__in=kinds, enabled=True, campaign__isnull=False).order_by("pk"):
        later = automation.kind == Automation.Kind.WELCOME_FOLLOW_UP and automation.days_before
        try:
            added += enqueue_occurrence(
                automation=automation,
                key="welcome",
                on=None,
                members=Member.objects.filter(pk=member_id),
                now=now,
                not_before=now + datetime.timedelta(days=automation.days_before) if later else None,
            )
        except Exception:  # never break the sign-up
            logger.exception("welcome automation %s failed for member %s", automation.pk, member_id)
    return added


def on_membership_renewal_due(sender, *, subscription, days_left=None, **kwargs) -> None:
    """`rewards.signals.membership_renewal_due`: remind the member once rewards' transaction commits."""
    member_id = subscription.member_id
    transaction.on_commit(lambda: remind_renewal(member_id=member_id))


def remind_renewal(*, member_id: int, now=None) -> int:
    """Queue the renewal reminder (rewards sends the signal once per membership; the occurrence is
    the day, so a member gets at most one a day)."""
    automation = Automation.objects.filter(
        kind=Automation.Kind.RENEWAL_REMINDER, enabled=True, campaign__isnull=False
    ).first()
    if automation is None:
        return 0
    day = timezone.localdate(now)
    try:
        return enqueue_occurrence(
            automation=automation, key=day.isoformat(), on=day, members=Member.objects.filter(pk=member_id), now=now
        )
    except Exception:
        logger.exception("renewal reminder automation failed for member %s", member_id)
        return 0


# --- at send time: the offer and the template's extra variables --------------------------------------


def before_send(*, message: OutboxMessage, now: datetime.datetime) -> dict:
    """Called by the dispatch under the outbox row's lock, just before the message is marked
    `sending`: issue the automation's coupon and return the extra template variables. Empty for
    ordinary campaigns. Raises OfferNotIssued when the coupon cannot be issued, and NothingToRemind
    (before any coupon is issued) when a reminder's figure is 0 by now — points expiring, bonus
    lapsing, care plans ending — so it is skipped rather than saying "0"."""
    occurrence = (
        AutomationOccurrence.objects.select_related("automation__coupon_template", "automation__campaign")
        .filter(step_id=message.step_id)
        .first()
    )
    if occurrence is None:
        return {}
    automation, member = occurrence.automation, message.member
    extra: dict = {}
    if automation.kind == Automation.Kind.HOLIDAY:
        extra["holiday"] = automation.holiday_name
        extra["holiday_date"] = occurrence.on.isoformat() if occurrence.on else ""
    elif automation.kind == Automation.Kind.IMPORTANT_DATE and occurrence.on:
        found = member_selectors.important_date_on(member, occurrence.on)
        with translation.override(automation.campaign.language if automation.campaign_id else None):
            extra["important_date"] = found.display_label if found else ""  # in the message's language
        extra["important_date_on"] = _("%(month)d/%(day)d") % {"month": occurrence.on.month, "day": occurrence.on.day}
    elif automation.kind == Automation.Kind.BIRTHDAY and member.birth_month:
        extra["birthday"] = _("%(month)d/%(day)d") % {"month": member.birth_month, "day": member.birth_day}
    elif automation.kind == Automation.Kind.POINTS_EXPIRY and occurrence.on:
        today = timezone.localdate(now)
        expiring = rewards_selectors.points_expiring_between(
            member, max(today, occurrence.on), automation_rules.month_end(occurrence.on)
        )
        if expiring.points <= 0:
            raise NothingToRemind(_("No points expire any more: nothing to remind of."))
        extra["expiring_points"] = expiring.points
        extra["expires_on"] = expiring.expires_on.isoformat() if expiring.expires_on else ""
    elif automation.kind == Automation.Kind.BONUS_LAPSE and occurrence.on:
        lapsing = selectors_stored_value.bonus_lapsing_on(member, occurrence.on)
        if lapsing <= 0:
            raise NothingToRemind(_("No bonus lapses any more: nothing to remind of."))
        extra["lapsing_bonus"] = f"{lapsing:.2f}"
        extra["lapses_on"] = occurrence.on.isoformat()
    elif automation.kind == Automation.Kind.CARE_PLAN_EXPIRY and occurrence.on:
        plans = selectors_care_plans.care_plans_ending(member, occurrence.on)
        if not plans:
            raise NothingToRemind(_("No care plan with claims left ends then any more: nothing to remind of."))
        extra["care_plan"] = "、".join(sale.plan.name for sale in plans)
        extra["ends_on"] = occurrence.on.isoformat()
        extra["claims_left"] = sum(sale.claims_left for sale in plans)
    elif automation.kind in (Automation.Kind.EVENT_REMINDER, Automation.Kind.EVENT_SEAT):
        extra.update(event_variables(occurrence.key))
    elif automation.kind == Automation.Kind.RENEWAL_REMINDER:
        membership = rewards_selectors.active_membership(member, now)
        extra["plan"] = membership.plan.display_name if membership else ""
        extra["ends_on"] = membership.ends_on.isoformat() if membership else ""
    elif automation.kind == Automation.Kind.SATISFACTION_SURVEY:
        from feedback import surveys

        # A fresh single-use link per message, made here (the consent check has passed, so only
        # members the message goes to get one); the signed token needs no row of its own.
        extra["survey_link"] = surveys.nps_survey_link(member=member, channel=message.channel)
        extra["ticket_no"] = occurrence.key
    template = automation.coupon_template
    if template is not None:
        from rewards.models import Coupon
        from rewards.services.coupons import issue_coupon

        # Once per message: a message retried after a temporary refusal carries the coupon issued
        # by its first attempt (the grant also lets a failed send void it, as for campaign offers).
        grant = OfferGrant.objects.select_related("coupon").filter(message_id=message.pk, coupon__isnull=False).first()
        if grant is not None:
            coupon = grant.coupon
        else:
            try:
                coupon = issue_coupon(template=template, member=member, source=Coupon.Source.CAMPAIGN)
            except DomainError as exc:
                raise OfferNotIssued(_("Coupon not issued: %(reason)s") % {"reason": exc}) from exc
            OfferGrant.objects.create(
                message=message, campaign_id=message.campaign_id, member_id=message.member_id, coupon=coupon
            )
        extra["coupon_code"] = coupon.code
        extra["coupon_name"] = template.name
    return extra


def _campaign_of(automation: Automation, now) -> Campaign:
    """The automation's campaign, locked; made (sending, step 1) with the default message if missing."""
    if automation.campaign_id:
        return lock_objects.campaign_for_update(automation.campaign_id)
    campaign = Campaign.objects.create(
        status=Campaign.Status.SENDING, launched_at=now, started_at=now, **automation_rules.default_message(automation)
    )
    CampaignStep.objects.create(campaign=campaign, number=1)
    automation.campaign = campaign
    return campaign


@transaction.atomic
def update_automation(*, automation: Automation, actor=None, **changes) -> list[str]:
    """Change an automation's switch, days, offer and its campaign's channel and templates (the
    campaign is made with the default message on the first change). ValidationError names each
    bad field; returns template warnings."""
    unknown = set(changes) - set(automation_rules.CAMPAIGN_FIELDS) - set(automation_rules.AUTOMATION_FIELDS)
    if unknown:
        raise ValidationError({name: [_("This field cannot be changed.")] for name in sorted(unknown)})
    now = timezone.now()
    locked = Automation.objects.select_for_update().get(pk=automation.pk)
    campaign = _campaign_of(locked, now)
    for name in automation_rules.CAMPAIGN_FIELDS:
        if name in changes:
            setattr(campaign, name, changes[name])
    for name in automation_rules.AUTOMATION_FIELDS:
        if name in changes:
            setattr(locked, name, changes[name])
    values = {name: getattr(campaign, name) for name in automation_rules.CAMPAIGN_FIELDS}
    values.update({name: getattr(locked, name) for name in automation_rules.AUTOMATION_FIELDS})
    warnings = automation_rules.validate_automation(kind=locked.kind, values=values)
    if locked.enabled and campaign.status == Campaign.Status.CANCELLED:
        campaign.status = Campaign.Status.SENDING  # switching a cancelled automation on again
    campaign.save()
    locked.save()
    logger.info("automation %s changed by %s: %s", locked.pk, getattr(actor, "pk", None), sorted(changes))
    return warnings
