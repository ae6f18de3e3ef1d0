"""Development only: what issue 18 adds to the demo shop — the segment "bought roses in the last 90
days, churn risk above 60%" (counted after the nightly classification has run), the important-date
greeting switched on, and an anniversary ten days ahead for the member-centre member (so /m/dates/
and the "important date within 14 days" segment show something)."""

from __future__ import annotations

import datetime

from campaigns.models import Automation, Segment
from campaigns.services import automations
from campaigns.services.segments import save_segment
from demo.centre import DEMO_MEMBER_PHONE
from members import services
from members.models import ConsentSource, ImportantDate, Member

SEGMENTS = [
    ("90天内买过玫瑰、流失风险高", {"bought_category": {"category": "roses", "within_days": 90}, "churn_risk_min": 0.6},
     "挽回：最近三个月买过玫瑰、但流失风险超过 60% 的会员"),
    ("两周内有纪念日", {"important_date_within_days": 14}, "纪念日前的鲜花提醒"),
    ("积分30天内到期（100分以上）", {"points_expiring_within_days": {"days": 30, "min_points": 100}}, ""),
]  # fmt: skip


def seed(*, horizon: datetime.datetime, actor) -> int:
    """Make the segments (idempotent by name), switch the important-date greeting on and give the
    member-centre member an anniversary; returns how many segments were made."""
    made = 0
    for name, rules, description in SEGMENTS:
        if not Segment.objects.filter(name=name).exists():
            save_segment(name=name, rules=rules, description=description, actor=actor)
            made += 1
    greeting = Automation.objects.filter(kind=Automation.Kind.IMPORTANT_DATE, enabled=False).first()
    if greeting is not None:
        automations.update_automation(automation=greeting, enabled=True, actor=actor)
    member = Member.objects.with_phone(DEMO_MEMBER_PHONE).first()
    if member is not None and not ImportantDate.objects.filter(member=member).exists():
        day = horizon.date() + datetime.timedelta(days=10)
        services.add_important_date(member=member, kind=ImportantDate.Kind.ANNIVERSARY, month=day.month,
                                    day=min(day.day, 28) if day.month == 2 else day.day, year=2018, consent=True,
                                    source=ConsentSource.ADMIN)  # fmt: skip
    return made
