"""Automations' pure rules, without the ORM: the trigger defaults, the message each automation
starts with, the template variables each trigger adds, and the settings checks. The writers are in
`campaigns.services.automations`."""

from __future__ import annotations

import calendar
import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from campaigns import personal_variables
from campaigns.models import Automation, Channel
from campaigns.templating import check_templates
from members import holidays

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
    Automation.Kind.BONUS_LAPSE: 7,
    Automation.Kind.CARE_PLAN_EXPIRY: 2,
    Automation.Kind.EVENT_REMINDER: 1,
    Automation.Kind.EVENT_SEAT: 0,
    Automation.Kind.IMPORTANT_DATE: 7,
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
    "important_date": ("自动：纪念日鲜花提醒",
                       "{{ member.name }}您好，{{ important_date_on }}是您的{{ important_date }}，"
                       "我们为您准备了应季花束，提前预订可准时送达，让心意如期而至。"),
    "day_520": ("自动：520告白祝福", "{{ member.name }}您好，520，把爱说出口！告白花束已备好，欢迎预订。"),
    "qixi": ("自动：七夕祝福", "{{ member.name }}您好，七夕快乐！浪漫花束已备好，欢迎预订。"),
    "womens_day": ("自动：女神节祝福", "{{ member.name }}您好，3·8女神节快乐！愿您如花绽放。"),
    "teachers_day": ("自动：教师节祝福", "{{ member.name }}您好，教师节将至，一束花送给难忘的老师。"),
    "christmas": ("自动：圣诞祝福", "{{ member.name }}您好，圣诞快乐！节日花礼已备好，欢迎选购。"),
    "bonus_lapse": ("自动：储值赠送金额到期提醒",
                    "{{ member.name }}您好，您储值卡中的赠送金额¥{{ lapsing_bonus }}将于{{ lapses_on }}到期，"
                    "请及时使用。"),
    "care_plan_expiry": ("自动：护理计划到期提醒",
                         "{{ member.name }}您好，您的{{ care_plan }}将于{{ ends_on }}到期，"
                         "还可申请{{ claims_left }}次服务，如需理赔请及时到店。"),
    "event_reminder": ("自动：活动提醒",
                       "{{ member.name }}您好，您报名的「{{ event_title }}」将于{{ event_starts_at }}开始，"
                       "地点：{{ event_place }}。期待您的光临！"),
    "event_seat": ("自动：活动候补转正",
                   "{{ member.name }}您好，「{{ event_title }}」有名额空出，您已从候补转为正式报名，"
                   "活动时间{{ event_starts_at }}，地点：{{ event_place }}。"),
}  # fmt: skip
# The English messages (`default_message(..., language="en")`); holidays without a message of their
# own share the generic greeting.
DEFAULT_MESSAGES_EN = {
    "important_date": ("Auto: important-date flowers",
                       "Dear {{ member.name }}, your {{ important_date }} is on {{ important_date_on }}. "
                       "Our seasonal bouquets are ready: order ahead and we deliver on the day."),
}  # fmt: skip
HOLIDAY_MESSAGE = ("自动：%(holiday)s祝福", "{{ member.name }}您好，祝您{{ holiday }}快乐！")
HOLIDAY_MESSAGE_EN = ("Auto: %(holiday)s greeting", "Dear {{ member.name }}, happy {{ holiday }}!")
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
    Automation.Kind.BONUS_LAPSE: ("lapsing_bonus", "lapses_on", "coupon_code", "coupon_name"),
    Automation.Kind.CARE_PLAN_EXPIRY: ("care_plan", "ends_on", "claims_left", "coupon_code", "coupon_name"),
    Automation.Kind.EVENT_REMINDER: ("event_title", "event_starts_at", "event_place", "coupon_code", "coupon_name"),
    Automation.Kind.EVENT_SEAT: ("event_title", "event_starts_at", "event_place", "coupon_code", "coupon_name"),
    Automation.Kind.IMPORTANT_DATE: ("important_date", "important_date_on", "coupon_code", "coupon_name"),
}
# How far back the survey trigger looks beyond "resolved N days ago", so days the beat missed
# (or tickets resolved after the day's run) are caught up.
SURVEY_CATCH_UP_DAYS = 7


def month_end(day: datetime.date) -> datetime.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


# --- configuration ---------------------------------------------------------------------------------

CAMPAIGN_FIELDS = ("channel", "message_template", "language", "subject", "body", "segment")
AUTOMATION_FIELDS = (
    "enabled", "days_before", "coupon_template", "win_back_rule", "win_back_churn_risk", "win_back_interval_factor",
)  # fmt: skip


def check_automation_templates(*, kind: str, subject: str, body: str) -> list[str]:
    """Validate the templates; warnings only for variables neither members nor this trigger have."""
    allowed = set(EXTRA_VARIABLES.get(kind, ()))
    warnings = [
        w for w in check_templates(subject=subject, body=body) if not any(f"{{{{ {v} }}}}" in w for v in allowed)
    ]
    # A campaign's personal variables (its survey's or event's link) have no value in an automation
    # unless its trigger supplies them (the satisfaction survey's `survey_link`).
    for name in sorted(personal_variables.used_by(subject, body) - allowed):
        warnings.append(_("“{{ %(name)s }}” has no value in this automation and will be empty.") % {"name": name})
    return warnings


def validate_automation(*, kind: str, values: dict) -> list[str]:
    """Check an automation's settings together; ValidationError names each bad field. Returns warnings."""
    errors: dict[str, list[str]] = {}
    channel, message_template = values.get("channel"), values.get("message_template")
    if channel not in Channel.values:
        errors["channel"] = [_("Choose email, SMS or WeChat.")]
    if message_template is not None and message_template.channel != channel:
        errors["message_template"] = [_("Choose a message template of the automation's channel.")]
    elif message_template is None and channel == Channel.WECHAT:
        errors["message_template"] = [_("A WeChat message needs a message template (the approved WeChat template).")]
    if not (values.get("body") or "").strip() and message_template is None:
        errors["body"] = [_("Write the message.")]
    if values.get("channel") == Channel.EMAIL and not (values.get("subject") or "").strip():
        errors["subject"] = [_("An email needs a subject.")]
    days = values.get("days_before")
    if not isinstance(days, int) or not 0 <= days <= 90:
        errors["days_before"] = [_("Enter a number of days from 0 to 90.")]
    rule = values.get("win_back_rule", Automation.WinBackRule.LAPSED)
    if rule not in Automation.WinBackRule.values:
        errors["win_back_rule"] = [_("Choose a win-back rule.")]
    risk = values.get("win_back_churn_risk")
    if risk is not None and not Decimal("0.01") <= Decimal(str(risk)) <= 1:
        errors["win_back_churn_risk"] = [_("Give a churn risk from 0.01 to 1 (0.60 is 60%).")]
    factor = values.get("win_back_interval_factor")
    if factor is not None and not 1 <= Decimal(str(factor)) <= 10:
        errors["win_back_interval_factor"] = [_("Give a factor from 1 to 10.")]
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


def default_message(automation: Automation, language: str = "zh-hans") -> dict:
    """The campaign fields an automation starts with: the Chinese message (the shop's customers
    read Chinese), or with `language="en"` the English one where the trigger has one (a holiday
    without a message of its own gets the generic greeting in either language)."""
    key = automation.holiday or automation.kind
    english = language == "en" and (key in DEFAULT_MESSAGES_EN or bool(automation.holiday))
    if english:
        name, body = DEFAULT_MESSAGES_EN.get(key) or (HOLIDAY_MESSAGE_EN[0] % {"holiday": automation.holiday_name},
                                                      HOLIDAY_MESSAGE_EN[1])  # fmt: skip
    elif key in DEFAULT_MESSAGES:
        name, body = DEFAULT_MESSAGES[key]
    else:
        name, body = HOLIDAY_MESSAGE[0] % {"holiday": automation.holiday_name}, HOLIDAY_MESSAGE[1]
    return {
        "name": name, "channel": Channel.SMS, "message_template": None, "language": "en" if english else "zh-hans",
        "subject": "", "body": body, "segment": None,
    }  # fmt: skip


def upcoming_dates(automation: Automation, holiday, today: datetime.date) -> list[datetime.date]:
    """A holiday's dates this year and next (shown in the admin); `holiday` is its calendar row
    (None: not in the calendar any more)."""
    if automation.kind != Automation.Kind.HOLIDAY or holiday is None:
        return []
    found = []
    for year in (today.year, today.year + 1):
        try:
            found.append(
                holidays.date_in_year(
                    rule=holiday.rule, month=holiday.month, day=holiday.day, weekday=holiday.weekday, year=year
                )
            )
        except ValueError:
            continue
    return found
