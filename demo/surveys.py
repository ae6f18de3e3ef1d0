"""The demo's designed survey and ticket topics: a store-experience questionnaire (NPS with "why"
for detractors, CSAT, what customers value, a suggestion) sent by SMS links over the last two months
and answered online — some links left unanswered — and by phone by support; complaint tickets
tagged with the topics their keywords suggest, with a wave of delivery complaints last month so
the KPI page shows a rising topic. Everything goes through `feedback.services` at past moments."""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass

from demo.clock import at, days_before
from feedback import topics
from feedback.models import Survey, SurveyQuestion, Ticket, Topic
from feedback.services import questionnaires, submit_feedback, tag_ticket
from feedback.topic_kpis import next_month
from members.models import Member

NAME = "门店体验回访"
WHY = ["花材不够新鲜", "送货比约定时间晚了很多", "价格偏高", "店员不太耐心", "包装被压坏了"]
SUGGESTIONS = ["希望增加夜间配送", "会员积分可以多一些兑换选择", "门店停车不方便", "包装很漂亮，继续保持"]
VALUES = ["花材新鲜", "包装精美", "配送准时", "价格实惠", "店员专业"]
LATE_DELIVERY = ["快递送晚了两个小时", "配送员迟到，花送到时客人已经走了", "约好上午送货，下午才到"]


@dataclass
class SurveyCounts:
    links: int = 0
    online: int = 0
    by_phone: int = 0
    tagged: int = 0


def ensure_survey(actor) -> Survey:
    survey = Survey.objects.filter(name=NAME).first()
    if survey is not None:
        return survey
    survey = Survey.objects.create(
        name=NAME, intro="感谢您光临我们的花店！这份问卷约需 1 分钟。", link_valid_days=14, created_by=actor
    )
    nps = SurveyQuestion.objects.create(
        survey=survey, position=1, key="nps", kind="nps", text="您有多大可能把我们推荐给朋友或同事？"
    )
    SurveyQuestion.objects.create(
        survey=survey, position=2, key="why", kind="text", text="很抱歉！请告诉我们哪里做得不好？",
        show_if_question=nps, show_if_operator="lte", show_if_value="6",
    )  # fmt: skip
    SurveyQuestion.objects.create(survey=survey, position=3, key="csat", kind="csat", text="您对本次购物的整体满意度？")
    SurveyQuestion.objects.create(
        survey=survey, position=4, key="values", kind="multiple", text="您最看重我们哪些方面？", required=False,
        choices="\n".join(VALUES),
    )  # fmt: skip
    SurveyQuestion.objects.create(
        survey=survey, position=5, key="idea", kind="text", text="还有什么建议吗？", required=False
    )
    questionnaires.current_version(survey=survey)
    return survey


def _answers(rng: random.Random) -> dict:
    nps = rng.choices(range(11), weights=[1, 1, 1, 2, 2, 3, 5, 9, 16, 22, 20])[0]
    raw = {
        "nps": [str(nps)],
        "csat": [str(max(1, min(5, round(nps / 2)) if nps < 9 else 5))],
        "values": rng.sample(VALUES, rng.randint(0, 3)),
    }
    if nps <= 6:
        raw["why"] = [rng.choice(WHY)]
    if rng.random() < 0.35:
        raw["idea"] = [rng.choice(SUGGESTIONS)]
    return raw


def seed_survey(
    counts: SurveyCounts, *, members: list[Member], rng: random.Random, horizon: datetime.datetime, support, marketing
) -> None:
    if not members:
        return
    survey = ensure_survey(marketing)
    if survey.responses.exists():
        return
    sample = rng.sample(members, min(len(members), 90))
    by_phone = max(1, len(sample) * 2 // 9)  # about 20 of 90 called, the rest sent a link
    for member in sample[:-by_phone]:
        sent = days_before(horizon, rng, 60, 2)
        with at(sent):
            link = questionnaires.create_link(survey=survey, member=member, channel="sms", source="demo")
        counts.links += 1
        if rng.random() < 0.6:  # about six in ten answer
            with at(sent + datetime.timedelta(hours=rng.randint(1, 40))):
                questionnaires.answer_link(token=questionnaires.link_token(link), raw=_answers(rng))
            counts.online += 1
    for member in sample[-by_phone:]:
        with at(days_before(horizon, rng, 45, 1)):
            questionnaires.answer_by_phone(survey=survey, member=member, raw=_answers(rng), staff=support)
        counts.by_phone += 1


def seed_topics(
    counts: SurveyCounts, *, members: list[Member], rng: random.Random, horizon: datetime.datetime, support
) -> None:
    """Tag complaint tickets with their suggested topics; a wave of late deliveries last month."""
    if not members:
        return
    last_month = (horizon.date().replace(day=1) - datetime.timedelta(days=1)).replace(day=1)
    for _i in range(6):
        day = last_month + datetime.timedelta(days=rng.randint(0, 25))
        moment = datetime.datetime.combine(day, datetime.time(11, rng.randint(0, 59)), tzinfo=horizon.tzinfo)
        if next_month(last_month) > horizon.date() or moment >= horizon:
            continue
        member = rng.choice(members)
        with at(moment):
            submit_feedback(
                kind=Ticket.Kind.COMPLAINT,
                message=rng.choice(LATE_DELIVERY),
                contact_name=member.name,
                phone=member.phone[3:],
                store=member.home_store,
                channel="web",
                language="zh-hans",
            )
    active = list(Topic.objects.filter(is_active=True))
    for ticket in Ticket.objects.filter(kind=Ticket.Kind.COMPLAINT, ticket_topics__isnull=True).order_by("pk"):
        found = [s.topic for s in topics.suggest(ticket.message, active)]
        if found:
            with at(ticket.created_at + datetime.timedelta(minutes=30)):
                tag_ticket(ticket=ticket, topics=found, actor=support)
            counts.tagged += 1


def seed(*, members: list[Member], rng: random.Random, horizon: datetime.datetime, support, marketing) -> SurveyCounts:
    """The designed survey with its answers, and the tagged complaints (called once by `demo.seed`)."""
    counts = SurveyCounts()
    seed_survey(counts, members=members, rng=rng, horizon=horizon, support=support, marketing=marketing)
    seed_topics(counts, members=members, rng=rng, horizon=horizon, support=support)
    return counts
