"""Automations: campaigns sent by a trigger (docs/rules/campaigns.md, "Automations").

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
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns import holidays, lock_objects, selectors
from campaigns.models import (
    Automation,
    AutomationOccurrence,
    Campaign,
    CampaignStep,
    Channel,
    ClassificationPolicy,
    OutboxMessage,
)
from campaigns.services import outbox
from campaigns.templating import check_templates
from loyalty_crm.errors import DomainError
from members.models import Member
from rewards import selectors as rewards_selectors

logger = logging.getLogger(__name__)

DEFAULT_DAYS = {
    Automation.Kind.BIRTHDAY: 7,
    Automation.Kind.POINTS_EXPIRY: 30,
    Automation.Kind.WIN_BACK: 30,
    Automation.Kind.HOLIDAY: 0,
    Automation.Kind.TIER_UPGRADE: 0,
    Automation.Kind.WELCOME: 0,
    Automation.Kind.WELCOME_FOLLOW_UP: 7,
    Automation.Kind.RENEWAL_REMINDER: 0,
    Automation.Kind.SATISFACTION_SURVEY: 3,
}
# The message an automation starts with (Chinese SMS; marketing edits it in the admin):
# (campaign name, body) per kind, or per holiday.
DEFAULT_MESSAGES = {
    "birthday": ("自动：生日礼券",
                 "{{ member.name }}您好，{{ birthday }}是您的生日，提前祝您生日快乐！生日礼券：{{ coupon_code }}。"),
    "win_back": ("自动：老客户召回",
                 "{{ member.name }}您好，好久不见，我们想念您！送您一张回店礼券：{{ coupon_code }}。"),
    "points_expiry": ("自动：积分到期提醒",
                      "{{ member.name }}您好，您有{{ expiring_points }}积分将于{{ expires_on }}到期，请及时使用。"),
    "tier_upgrade": ("自动：会员升级祝贺", "恭喜{{ member.name }}升级为{{ tier }}会员！感谢您的支持。"),
    "spring_festival": ("自动：春节祝福", "{{ member.name }}您好，新春快乐，万事如意！"),
    "valentines": ("自动：情人节祝福", "{{ member.name }}您好，情人节快乐！"),
    "qixi": ("自动：七夕祝福", "{{ member.name }}您好，七夕快乐！"),
    "mothers_day": ("自动：母亲节祝福", "{{ member.name }}您好，母亲节快乐，祝天下母亲健康幸福！"),
    "mid_autumn": ("自动：中秋祝福", "{{ member.name }}您好，中秋快乐，花好月圆！"),
    "welcome": ("自动：欢迎新会员", "{{ member.name }}您好，欢迎加入！您的会员号是{{ member.member_no }}。"),
    "welcome_follow_up": ("自动：新会员关怀",
                          "{{ member.name }}您好，加入一周了，您已有{{ points_balance }}积分，期待再次光临！"),
    "renewal_reminder": ("自动：付费会员续费提醒",
                         "{{ member.name }}您好，您的{{ plan }}将于{{ ends_on }}到期，续费可继续享受会员权益。"),
    "satisfaction_survey": ("自动：满意度调查",
                            "{{ member.name }}您好，您的反馈{{ ticket_no }}已处理完毕。您有多大可能向朋友推荐我们？"
                            "请点击链接评分：{{ survey_link }}"),
}  # fmt: skip
# Variables automation templates may use besides the member fields every campaign has.
EXTRA_VARIABLES = {
    Automation.Kind.BIRTHDAY: ("birthday", "coupon_code", "coupon_name"),
    Automation.Kind.WIN_BACK: ("coupon_code", "coupon_name"),
    Automation.Kind.POINTS_EXPIRY: ("expiring_points", "expires_on", "coupon_code", "coupon_name"),
    Automation.Kind.TIER_UPGRADE: ("coupon_code", "coupon_name"),
    Automation.Kind.HOLIDAY: ("holiday", "holiday_date", "coupon_code", "coupon_name"),
    Automation.Kind.WELCOME: ("coupon_code", "coupon_name"),
    Automation.Kind.WELCOME_FOLLOW_UP: ("coupon_code", "coupon_name"),
    Automation.Kind.RENEWAL_REMINDER: ("plan", "ends_on", "coupon_code", "coupon_name"),
    Automation.Kind.SATISFACTION_SURVEY: ("survey_link", "ticket_no", "coupon_code", "coupon_name"),
}
# How far back the survey trigger looks beyond "resolved N days ago", so days the beat missed
# (or tickets resolved after the day's run) are caught up.
SURVEY_CATCH_UP_DAYS = 7


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
    """Everyone in the audience, from N days before the holiday to the day itself, once a year."""
    date = holidays.next_holiday_date(automation.holiday, today)
    if date - datetime.timedelta(days=automation.days_before) > today:
        return 0
    return enqueue_occurrence(automation=automation, key=str(date.year), on=date, members=Member.objects.all(), now=now)


def _month_end(day: datetime.date) -> datetime.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def run_points_expiry(automation: Automation, today: datetime.date, now=None) -> int:
    """Members with points expiring from today to today + N days, once per member per month of
    expiry (rolling expiry dates would otherwise remind a frequent buyer every day)."""
    last = today + datetime.timedelta(days=automation.days_before)
    months = sorted({day.replace(day=1) for day in rewards_selectors.expiring_lot_dates(today, last)})
    added = 0
    for month in months:
        first, end = max(today, month), min(last, _month_end(month))
        members = rewards_selectors.members_with_points_expiring(first, end)
        added += enqueue_occurrence(automation=automation, key=month.strftime("%Y-%m"), on=month, members=members,
                                    now=now)  # fmt: skip
    return added


def run_win_back(automation: Automation, today: datetime.date, now=None) -> int:
    """Members the nightly classification found lapsed within the last N days, once per lapse:
    a member already sent (or skipped for) this automation since their last purchase is not
    queued again; buying and lapsing again is a new lapse."""
    policy = ClassificationPolicy.current()
    newest = policy.lapsed_after_days + max(automation.days_before, 1)
    earlier = OutboxMessage.objects.filter(
        campaign_id=automation.campaign_id,
        member=OuterRef("pk"),
        created_at__gt=OuterRef("campaign_score__last_purchase_at"),
    )
    members = Member.objects.filter(
        campaign_score__classification="lapsed", campaign_score__recency_days__lte=newest
    ).exclude(Exists(earlier))
    return enqueue_occurrence(automation=automation, key=today.isoformat(), on=today, members=members, now=now)


def run_satisfaction_survey(automation: Automation, today: datetime.date, now=None) -> int:
    """Members whose feedback ticket was resolved N days ago (or up to SURVEY_CATCH_UP_DAYS days
    earlier, not yet surveyed), once per ticket: the occurrence key is the ticket number, so a
    ticket already followed up (or reopened and resolved again) is never surveyed twice."""
    from feedback import surveys

    last = today - datetime.timedelta(days=automation.days_before)
    first = last - datetime.timedelta(days=SURVEY_CATCH_UP_DAYS)
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


RUNNERS = {
    Automation.Kind.BIRTHDAY: run_birthday,
    Automation.Kind.HOLIDAY: run_holiday,
    Automation.Kind.POINTS_EXPIRY: run_points_expiry,
    Automation.Kind.WIN_BACK: run_win_back,
    Automation.Kind.SATISFACTION_SURVEY: run_satisfaction_survey,
}


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


def on_tier_history_saved(sender, instance, created, raw=False, **kwargs) -> None:
    """post_save of `rewards.TierHistory`: congratulate an upgrade once the change commits."""
    if not created or raw or instance.from_tier_id is None:
        return
    history_id = instance.pk
    transaction.on_commit(lambda: congratulate_tier_upgrade(tier_history_id=history_id))


def congratulate_tier_upgrade(*, tier_history_id: int, now=None) -> int:
    """Queue the tier-upgrade message for an upward change (a higher rank), once per member per day."""
    from rewards.models import TierHistory

    change = TierHistory.objects.select_related("from_tier", "to_tier").filter(pk=tier_history_id).first()
    if change is None or change.from_tier is None or change.to_tier.rank <= change.from_tier.rank:
        return 0
    automation = Automation.objects.filter(
        kind=Automation.Kind.TIER_UPGRADE, enabled=True, campaign__isnull=False
    ).first()
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


class OfferNotIssued(DomainError):
    code = "automation_offer_not_issued"


def before_send(*, message: OutboxMessage, now: datetime.datetime) -> dict:
    """Called by the dispatch under the outbox row's lock, just before the message is marked
    `sending`: issue the automation's coupon and return the extra template variables. Empty for
    ordinary campaigns. Raises OfferNotIssued when the coupon cannot be issued."""
    occurrence = (
        AutomationOccurrence.objects.select_related("automation__coupon_template")
        .filter(step_id=message.step_id)
        .first()
    )
    if occurrence is None:
        return {}
    automation, member = occurrence.automation, message.member
    extra: dict = {}
    if automation.kind == Automation.Kind.HOLIDAY:
        extra["holiday"] = str(automation.get_holiday_display())
        extra["holiday_date"] = occurrence.on.isoformat() if occurrence.on else ""
    elif automation.kind == Automation.Kind.BIRTHDAY and member.birth_month:
        extra["birthday"] = _("%(month)d/%(day)d") % {"month": member.birth_month, "day": member.birth_day}
    elif automation.kind == Automation.Kind.POINTS_EXPIRY and occurrence.on:
        today = timezone.localdate(now)
        expiring = rewards_selectors.points_expiring_between(
            member, max(today, occurrence.on), _month_end(occurrence.on)
        )
        extra["expiring_points"] = expiring.points
        extra["expires_on"] = expiring.expires_on.isoformat() if expiring.expires_on else ""
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

        try:
            coupon = issue_coupon(template=template, member=member, source=Coupon.Source.CAMPAIGN)
        except DomainError as exc:
            raise OfferNotIssued(_("Coupon not issued: %(reason)s") % {"reason": exc}) from exc
        extra["coupon_code"] = coupon.code
        extra["coupon_name"] = template.name
    return extra


# --- configuration ---------------------------------------------------------------------------------

CAMPAIGN_FIELDS = ("channel", "language", "subject", "body", "segment")
AUTOMATION_FIELDS = ("enabled", "days_before", "coupon_template")


def check_automation_templates(*, kind: str, subject: str, body: str) -> list[str]:
    """Validate the templates; warnings only for variables neither members nor this trigger have."""
    allowed = set(EXTRA_VARIABLES.get(kind, ()))
    return [w for w in check_templates(subject=subject, body=body) if not any(f"{{{{ {v} }}}}" in w for v in allowed)]


def validate_automation(*, kind: str, values: dict) -> list[str]:
    """Check an automation's settings together; ValidationError names each bad field. Returns warnings."""
    errors: dict[str, list[str]] = {}
    if values.get("channel") not in Channel.values:
        errors["channel"] = [_("Choose email or SMS.")]
    if not (values.get("body") or "").strip():
        errors["body"] = [_("Write the message.")]
    if values.get("channel") == Channel.EMAIL and not (values.get("subject") or "").strip():
        errors["subject"] = [_("An email needs a subject.")]
    days = values.get("days_before")
    if not isinstance(days, int) or not 0 <= days <= 90:
        errors["days_before"] = [_("Enter a number of days from 0 to 90.")]
    template = values.get("coupon_template")
    if template is not None and not template.is_active:
        errors["coupon_template"] = [_("This coupon is not active.")]
    warnings: list[str] = []
    try:
        warnings = check_automation_templates(
            kind=kind, subject=values.get("subject") or "", body=values.get("body") or ""
        )
    except ValidationError as exc:
        for key, messages in exc.message_dict.items():
            errors.setdefault(key, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    return warnings


def default_message(automation: Automation) -> dict:
    """The campaign fields an automation starts with."""
    name, body = DEFAULT_MESSAGES[automation.holiday or automation.kind]
    return {"name": name, "channel": Channel.SMS, "language": "zh-hans", "subject": "", "body": body, "segment": None}


def _campaign_of(automation: Automation, now) -> Campaign:
    """The automation's campaign, locked; made (sending, step 1) with the default message if missing."""
    if automation.campaign_id:
        return lock_objects.campaign_for_update(automation.campaign_id)
    campaign = Campaign.objects.create(
        status=Campaign.Status.SENDING, launched_at=now, started_at=now, **default_message(automation)
    )
    CampaignStep.objects.create(campaign=campaign, number=1)
    automation.campaign = campaign
    return campaign


@transaction.atomic
def update_automation(*, automation: Automation, actor=None, **changes) -> list[str]:
    """Change an automation's switch, days, offer and its campaign's channel and templates (the
    campaign is made with the default message on the first change). ValidationError names each
    bad field; returns template warnings."""
    unknown = set(changes) - set(CAMPAIGN_FIELDS) - set(AUTOMATION_FIELDS)
    if unknown:
        raise ValidationError({name: [_("This field cannot be changed.")] for name in sorted(unknown)})
    now = timezone.now()
    locked = Automation.objects.select_for_update().get(pk=automation.pk)
    campaign = _campaign_of(locked, now)
    for name in CAMPAIGN_FIELDS:
        if name in changes:
            setattr(campaign, name, changes[name])
    for name in AUTOMATION_FIELDS:
        if name in changes:
            setattr(locked, name, changes[name])
    values = {name: getattr(campaign, name) for name in CAMPAIGN_FIELDS}
    values.update({name: getattr(locked, name) for name in AUTOMATION_FIELDS})
    warnings = validate_automation(kind=locked.kind, values=values)
    if locked.enabled and campaign.status == Campaign.Status.CANCELLED:
        campaign.status = Campaign.Status.SENDING  # switching a cancelled automation on again
    campaign.save()
    locked.save()
    logger.info("automation %s changed by %s: %s", locked.pk, getattr(actor, "pk", None), sorted(changes))
    return warnings


def upcoming_dates(automation: Automation, today: datetime.date) -> list[datetime.date]:
    """A holiday's dates this year and next (shown in the admin)."""
    if automation.kind != Automation.Kind.HOLIDAY:
        return []
    return [holidays.holiday_date(automation.holiday, year) for year in (today.year, today.year + 1)]
