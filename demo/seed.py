"""`seed_demo`'s work: a flower and gift shop chain a year deep, on every screen.

In order, all in one transaction (all or nothing):
1. the shop (stores, categories, products, tags), the demo logins, the rewards catalogue, the
   paid plan, the segments and the café partner's offer;
2. the members with three years of purchases (earning points in bulk), records and consents
   (`demo.members`);
3. a year of use, through the owning apps' services at past moments: partner coupons and referral
   rewards, paid memberships, redemptions, coupons held and used, promotions (`demo.rewards`);
4. with the last purchase in, the classification, RFM and CLV run as the nightly task does it
   (so the campaigns can target its classes, and the classification page is filled); then the last
   day's sales at the till, walk-ins and a return (`demo.till`); a year of walk-in sales and the
   product recommendations (`demo.analytics`);
5. campaigns past (a pilot and its expansion among them), scheduled, recurring and a draft, and
   the marketing KPI targets (`demo.campaigns`); tickets of the year with their survey answers,
   today's queue, and the service KPI targets (`demo.feedback`).

The members are drawn from the seed alone (see `demo.members`); the year of use from
`random.Random(f"{seed}:activity")` over the members of this run, so the same seed on an
empty database gives the same shop.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction

from demo import analytics as demo_analytics
from demo import campaigns as demo_campaigns
from demo import care_plans as demo_care_plans
from demo import centre as demo_centre
from demo import events as demo_events
from demo import feedback as demo_feedback
from demo import home as demo_home
from demo import members as demo_members
from demo import rewards as demo_rewards
from demo import segments as demo_segments
from demo import stored_value as demo_stored_value
from demo import surveys as demo_surveys
from demo import till as demo_till
from demo.clock import start_of_today
from demo.logins import DemoLogin, ensure_demo_users
from members.models import Member, StaffProfile

DEFAULT_SEED = 2024
DEFAULT_MEMBERS = 2000

# The steps after the members, in order; `step(name)` is called as each one ends (the progress bar).
STEPS = ("partners_referrals", "rewards", "classification", "campaigns", "feedback")


@dataclass
class SeedCounts:
    stores: int = 0
    categories: int = 0
    products: int = 0
    members: demo_members.MemberCounts = field(default_factory=demo_members.MemberCounts)
    rewards: demo_rewards.RewardsCounts = field(default_factory=demo_rewards.RewardsCounts)
    campaigns: demo_campaigns.CampaignCounts = field(default_factory=demo_campaigns.CampaignCounts)
    feedback: demo_feedback.FeedbackCounts = field(default_factory=demo_feedback.FeedbackCounts)
    stored_value: demo_stored_value.StoredValueCounts = field(default_factory=demo_stored_value.StoredValueCounts)
    till: demo_till.TillCounts = field(default_factory=demo_till.TillCounts)
    centre: demo_centre.CentreCounts = field(default_factory=demo_centre.CentreCounts)
    care_plans: demo_care_plans.CarePlanCounts = field(default_factory=demo_care_plans.CarePlanCounts)
    events: demo_events.EventCounts = field(default_factory=demo_events.EventCounts)
    analytics: demo_analytics.AnalyticsCounts = field(default_factory=demo_analytics.AnalyticsCounts)
    logins: list[DemoLogin] = field(default_factory=list)


@transaction.atomic
def seed_demo(
    *,
    members: int = DEFAULT_MEMBERS,
    seed: int = DEFAULT_SEED,
    batch_size: int = 1000,
    progress: Callable[[int], None] | None = None,
    step: Callable[[str], None] | None = None,
) -> SeedCounts:
    """Create the demo shop, its logins, `members` members and a year of their activity (all or nothing).

    Member `i` (counting members already in the database, so a second run adds new people) is
    drawn from `random.Random(f"{seed}:{i}")`.
    """
    step = step or (lambda name: None)
    counts = SeedCounts()
    catalogue = demo_members.ensure_catalogue()
    counts.stores, counts.categories, counts.products = (
        len(catalogue.stores),
        len(catalogue.categories),
        len(catalogue.products),
    )
    counts.logins = ensure_demo_users()
    User = get_user_model()
    users = {
        user.username: user for user in User.objects.filter(username__in=["staff", "support", "marketing", "manager"])
    }
    if "staff" in users:
        # The demo clerk works in the first store, so the dashboard shows that store's figures.
        StaffProfile.objects.get_or_create(user=users["staff"], defaults={"store": catalogue.stores[0]})
    horizon = start_of_today()
    terms = demo_centre.ensure_terms(actor=users.get("manager"))
    demo_rewards.ensure_catalogue(counts.rewards)
    demo_stored_value.ensure_rules(counts.stored_value)
    marketing = users.get("marketing")
    demo_stored_value.ensure_lapse_reminder(actor=marketing)
    segments = demo_campaigns.ensure_segments(counts.campaigns, actor=marketing)
    offer = demo_campaigns.ensure_partner(horizon=horizon, templates=counts.rewards.templates)

    generator = demo_members.DemoGenerator(seed=seed, catalogue=catalogue, users=users)
    first = Member.objects.count()
    # The member-centre member (a documented phone for /m/) is one of the `members` asked for.
    with_centre_member = members > 0 and not demo_centre.centre_member_exists()
    drawn = members - 1 if with_centre_member else members
    for offset in range(0, drawn, batch_size):
        count = min(batch_size, drawn - offset)
        generator.write_batch(first + offset, count)
        if progress:
            progress(count)
    counts.members = generator.counts
    seeded = list(
        Member.objects.filter(pk__in=[pk for pk, _at in generator.earlier]).select_related("home_store").order_by("pk")
    )
    demo_centre.accept_for_members(seeded, terms)
    rng = random.Random(f"{seed}:activity")
    staff, support, manager = users.get("staff"), users.get("support"), users.get("manager")

    demo_campaigns.reward_partners_and_referrals(counts.campaigns, members=seeded, offer=offer, staff=staff)
    step("partners_referrals")
    demo_rewards.seed_activity(counts.rewards, members=seeded, rng=rng, horizon=horizon, staff=staff)
    demo_rewards.ensure_promotions(counts.rewards, horizon=horizon)
    demo_stored_value.seed_activity(counts.stored_value, members=seeded, seed=seed, horizon=horizon, staff=staff)
    if with_centre_member:  # every page of the member centre filled, for a newcomer to open
        demo_centre.ensure_centre_member(
            counts.centre,
            horizon=horizon,
            store=catalogue.stores[0] if catalogue.stores else None,
            products=list(catalogue.products.values()),
            templates=counts.rewards.templates,
            friend=next((m for m in seeded if m.status == Member.Status.ACTIVE and m.phone), None),
            staff=staff,
        )
        counts.members.members += 1
        counts.members.purchases += counts.centre.purchases
        if progress:
            progress(1)
    counts.care_plans = demo_care_plans.seed(
        members=seeded, horizon=horizon, staff=staff, support=support, marketing=marketing
    )
    step("rewards")
    demo_campaigns.classify(counts.campaigns)
    demo_till.seed_till_sales(
        counts.till,
        members=seeded,
        products=list(catalogue.products.values()),
        store=catalogue.stores[0] if catalogue.stores else None,
        rng=rng,
        horizon=horizon,
        staff=staff,
    )
    demo_analytics.seed_walk_ins(
        counts.analytics,
        members=members,
        products=list(catalogue.products.values()),
        stores=list(catalogue.stores),
        rng=random.Random(f"{seed}:walk-ins"),
        horizon=horizon,
        seed=seed,
    )
    demo_analytics.compute_recommendations(counts.analytics, horizon=horizon)
    demo_segments.seed(horizon=horizon, actor=marketing)
    step("classification")
    demo_campaigns.seed_campaigns(counts.campaigns, segments=segments, horizon=horizon, actor=marketing)
    demo_campaigns.ensure_kpi_targets(counts.campaigns, horizon=horizon)
    demo_events.seed_events(
        counts.events, members=seeded, store=catalogue.stores[0] if catalogue.stores else None, horizon=horizon,
        staff=marketing,
    )  # fmt: skip
    step("campaigns")
    demo_feedback.seed_history(counts.feedback, members=seeded, rng=rng, horizon=horizon, support=support)
    demo_feedback.seed_nps(counts.feedback, members=seeded, rng=rng, horizon=horizon)
    demo_feedback.seed_queue(counts.feedback, members=seeded, rng=rng, support=support)
    demo_feedback.seed_service_desk(counts.feedback, members=seeded, rng=rng, support=support)
    demo_feedback.ensure_kpi_targets(counts.feedback, horizon=horizon, manager=manager)
    demo_surveys.seed(
        members=seeded, rng=random.Random(f"{seed}:surveys"), horizon=horizon, support=support, marketing=marketing
    )
    step("feedback")
    demo_home.seed_workspace(
        members=seeded, store=catalogue.stores[0] if catalogue.stores else None, rng=random.Random(f"{seed}:home"),
        horizon=horizon, support=support, marketing=marketing,
    )  # fmt: skip
    return counts
