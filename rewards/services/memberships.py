"""Paid membership (付费会员): selling, renewing, cancelling and expiring plans.

A membership runs from `starts_on` to `ends_on` (both included). Buying while one runs (or while
a renewal already waits) makes a renewal that starts the day after the last one ends. Selling is
idempotent on `external_ref` (the till's or shop's order number). The price is what the plan
costs when sold; the money itself is taken by the till, not here.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from members.models import Member
from members.services import MemberErased
from rewards import lock_objects, rules
from rewards.errors import IdempotencyConflict, MembershipNotActive, PlanNotOnSale
from rewards.models import MembershipPlan, MembershipSubscription
from rewards.services.ledger import real_actor
from rewards.signals import membership_renewal_due

logger = logging.getLogger("rewards.memberships")


@dataclass(frozen=True)
class MembershipResult:
    subscription: MembershipSubscription
    created: bool  # False when this answers a retry with the same external reference


@transaction.atomic
def buy_membership(
    *,
    member: Member,
    plan: MembershipPlan,
    external_ref: str,
    actor=None,
    starts_on: datetime.date | None = None,
) -> MembershipResult:
    """Sell `plan` to `member`. Idempotent on `external_ref`: the same member and plan again
    answer the first sale; another member or plan raises IdempotencyConflict.

    Starts on `starts_on` (today by default) — or, when the member holds a membership that is
    still running then (or a renewal bought ahead), the day after the last one ends.
    """
    external_ref = (external_ref or "").strip()
    if not external_ref:
        raise ValidationError({"external_ref": [_("Enter the sale's external reference.")]})
    member = lock_objects.member_for_update(member.pk)
    existing = MembershipSubscription.objects.select_related("plan").filter(external_ref=external_ref).first()
    if existing is not None:
        if existing.member_id != member.pk or existing.plan_id != plan.pk:
            raise IdempotencyConflict(
                _("The external reference “%(ref)s” was already used for another sale.") % {"ref": external_ref}
            )
        return MembershipResult(subscription=existing, created=False)
    if member.is_erased:
        raise MemberErased(_("Member %(member_no)s has been erased.") % {"member_no": member.member_no})
    plan = MembershipPlan.objects.get(pk=plan.pk)
    if not plan.is_active:
        raise PlanNotOnSale(_("The plan “%(plan)s” is not on sale.") % {"plan": plan.display_name})
    start = starts_on or timezone.localdate()
    last = (
        MembershipSubscription.objects.filter(
            member=member, status=MembershipSubscription.Status.ACTIVE, ends_on__gte=start
        )
        .order_by("-ends_on")
        .first()
    )
    if last is not None:
        start = last.ends_on + datetime.timedelta(days=1)
    subscription = MembershipSubscription.objects.create(
        member=member,
        plan=plan,
        starts_on=start,
        ends_on=rules.membership_ends_on(start, plan.duration_months),
        price_paid=plan.price,
        external_ref=external_ref,
        sold_by=real_actor(actor),
    )
    return MembershipResult(subscription=subscription, created=True)


@transaction.atomic
def cancel_membership(*, subscription: MembershipSubscription, actor=None) -> MembershipSubscription:
    """Cancel a membership that is active (running or waiting to start); its perks stop at once.
    Refunding the fee is the till's business. Raises MembershipNotActive otherwise."""
    lock_objects.member_for_update(subscription.member_id)
    subscription = MembershipSubscription.objects.select_for_update().get(pk=subscription.pk)
    if subscription.status != MembershipSubscription.Status.ACTIVE:
        raise MembershipNotActive(
            _("This membership is already %(status)s.") % {"status": subscription.get_status_display()}
        )
    subscription.status = MembershipSubscription.Status.CANCELLED
    subscription.cancelled_at = timezone.now()
    subscription.cancelled_by = real_actor(actor)
    subscription.save(update_fields=["status", "cancelled_at", "cancelled_by"])
    return subscription


@dataclass(frozen=True)
class MembershipRun:
    expired: int
    reminded: int


def expire_memberships(*, today: datetime.date | None = None) -> int:
    """Mark active memberships that ended before `today` as expired (one statement)."""
    today = today or timezone.localdate()
    return MembershipSubscription.objects.filter(status=MembershipSubscription.Status.ACTIVE, ends_on__lt=today).update(
        status=MembershipSubscription.Status.EXPIRED
    )


def remind_renewals(*, today: datetime.date | None = None, days: int | None = None) -> int:
    """Send `membership_renewal_due` once for each active membership ending within `days` days
    (MEMBERSHIP_RENEWAL_REMINDER_DAYS) that has no renewal waiting; returns how many were sent."""
    today = today or timezone.localdate()
    days = settings.MEMBERSHIP_RENEWAL_REMINDER_DAYS if days is None else days
    renewed = MembershipSubscription.objects.filter(
        member_id=OuterRef("member_id"),
        status=MembershipSubscription.Status.ACTIVE,
        starts_on__gt=OuterRef("ends_on"),
    )
    due = list(
        MembershipSubscription.objects.filter(
            status=MembershipSubscription.Status.ACTIVE,
            renewal_reminded_at__isnull=True,
            ends_on__gte=today,
            ends_on__lte=today + datetime.timedelta(days=days),
        )
        .exclude(Exists(renewed))
        .order_by("ends_on", "pk")
        .values_list("pk", flat=True)
    )
    sent = 0
    for pk in due:
        try:
            with transaction.atomic():
                # Claim the row: a concurrent run (or a retry) finds it marked and skips it.
                claimed = MembershipSubscription.objects.filter(pk=pk, renewal_reminded_at__isnull=True).update(
                    renewal_reminded_at=timezone.now()
                )
                if not claimed:
                    continue
                subscription = MembershipSubscription.objects.select_related("member", "plan").get(pk=pk)
                membership_renewal_due.send(
                    sender=MembershipSubscription,
                    subscription=subscription,
                    days_left=(subscription.ends_on - today).days,
                )
        except Exception:
            # The mark is rolled back with the failing listener: tomorrow's run tries again.
            logger.exception("A membership_renewal_due listener failed for membership %s", pk)
            continue
        sent += 1
    return sent


def process_memberships(*, today: datetime.date | None = None) -> MembershipRun:
    """The daily run: expire ended memberships, then send the renewal reminders that are due."""
    today = today or timezone.localdate()
    expired = expire_memberships(today=today)
    reminded = remind_renewals(today=today)
    logger.info("Memberships on %s: %d expired, %d renewal reminders", today.isoformat(), expired, reminded)
    return MembershipRun(expired=expired, reminded=reminded)
