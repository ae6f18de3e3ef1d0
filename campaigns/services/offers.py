"""Campaign offers: a coupon or bonus points for each member a message is actually sent to.

One `OfferGrant` per outbox message (a one-to-one row), so the offer is given at most once per
(campaign step, member), whatever retries or workers do:

* a coupon is issued in `prepare_message`, under the outbox row's lock and in the transaction
  that marks the message `sending` (the code must be in the rendered message). If the channel
  then refuses the message, the coupon is voided; a message `in_doubt` keeps it.
* bonus points are credited when the message is marked `sent`, in the same transaction.

Coupons and points are given through `rewards.services` only (`issue_coupon`,
`credit_campaign_points`, `void_coupon`); campaigns never write rewards' tables.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from campaigns import lock_objects
from campaigns.errors import CampaignNotEditable
from campaigns.models import Campaign, CampaignOffer, OfferGrant, OutboxMessage
from campaigns.selectors.offers import offer_of, offer_points
from rewards.ledger_reasons import Reason
from rewards.models import Coupon
from rewards.services.bonuses import credit_campaign_points
from rewards.services.coupons import void_coupon
from rewards.services.ledger import MAX_POINTS_PER_GRANT

logger = logging.getLogger(__name__)

LOOK_UP = object()  # `offer` not given: look the campaign's offer up


@transaction.atomic
def set_offer(*, campaign: Campaign, kind: str | None, coupon_template=None, points: int = 0, actor=None):
    """Give a draft campaign an offer (a coupon template or bonus points), or remove it (kind None)."""
    locked = lock_objects.campaign_for_update(campaign.pk)
    if locked.status != Campaign.Status.DRAFT:
        raise CampaignNotEditable(
            _("Only a draft can be edited; this campaign is %(status)s.") % {"status": locked.get_status_display()}
        )
    if kind is None:
        CampaignOffer.objects.filter(campaign=locked).delete()
        return None
    errors = {}
    if kind == CampaignOffer.Kind.COUPON:
        if coupon_template is None:
            errors["coupon_template"] = [_("Choose the coupon to give.")]
        elif not coupon_template.is_active:
            errors["coupon_template"] = [_("The coupon “%(name)s” is not active.") % {"name": coupon_template.name}]
        points = 0
    elif kind == CampaignOffer.Kind.POINTS:
        if not isinstance(points, int) or isinstance(points, bool) or points <= 0:
            errors["points"] = [_("Enter a whole number of points above 0.")]
        elif points > MAX_POINTS_PER_GRANT:
            errors["points"] = [_("At most %(max)s points at a time.") % {"max": f"{MAX_POINTS_PER_GRANT:,}"}]
        coupon_template = None
    else:
        errors["kind"] = [_("Choose a coupon or bonus points.")]
    if errors:
        raise ValidationError(errors)
    offer, _created = CampaignOffer.objects.update_or_create(
        campaign=locked, defaults={"kind": kind, "coupon_template": coupon_template, "points": points}
    )
    return offer


def coupon_for_message(message: OutboxMessage, offer=LOOK_UP) -> Coupon | None:
    """The coupon the message carries (issued now, or the one issued by an earlier attempt).

    Runs inside `prepare_message`'s transaction, with the outbox row locked. Raises the rewards
    error (inactive template, member's limit reached, erased member) when it cannot be issued.
    `offer` is the campaign's offer when the caller looked it up already (a dispatch batch).
    """
    from rewards.services.coupons import issue_coupon

    if offer is LOOK_UP:
        offer = offer_of(message.campaign_id)
    if offer is None or offer.kind != CampaignOffer.Kind.COUPON:
        return None
    grant = OfferGrant.objects.select_related("coupon").filter(message_id=message.pk).first()
    if grant is not None:
        return grant.coupon
    coupon = issue_coupon(template=offer.coupon_template, member=message.member, source=Coupon.Source.CAMPAIGN)
    OfferGrant.objects.create(
        message=message, campaign_id=message.campaign_id, member_id=message.member_id, coupon=coupon
    )
    return coupon


def settle_after_send(*, message_id: int, sent: bool, offer=LOOK_UP) -> None:
    """After the channel answered: credit a points offer (sent) or void the coupon (failed).

    Called in `finish_message`'s transaction, right after the status change. With `offer` given
    (the campaign's offer, looked up once per batch) and None, there is nothing to settle — the
    caller passes None only for a campaign without an offer whose message is no automation's (an
    automation's coupon has its `OfferGrant` too: the caller lets it be looked up)."""
    if offer is None:
        return
    message = OutboxMessage.objects.select_related("campaign", "member").get(pk=message_id)
    if sent:
        if offer is LOOK_UP:
            points = offer_points(message.campaign_id)
        else:
            points = offer.points if offer.kind == CampaignOffer.Kind.POINTS else 0
        if not points or OfferGrant.objects.filter(message_id=message_id).exists():
            return
        entry = credit_campaign_points(
            member=message.member,
            points=points,
            reason_code=Reason.CAMPAIGN,
            reason_params={"name": message.campaign.name},
        )
        if entry is not None:
            OfferGrant.objects.create(
                message=message, campaign_id=message.campaign_id, member_id=message.member_id, points=points,
                ledger_entry=entry,
            )  # fmt: skip
        return
    grant = OfferGrant.objects.select_related("coupon").filter(message_id=message_id, coupon__isnull=False).first()
    if grant is not None and grant.coupon.status == Coupon.Status.ISSUED:
        with transaction.atomic():
            void_coupon(coupon=grant.coupon, reason_code=Coupon.VoidReason.CAMPAIGN_NOT_SENT)


def settle_block(*, sent: list[tuple[int, object]], failed: list[tuple[int, object]]) -> None:
    """`settle_after_send` for a dispatch block at once: (message id, offer) pairs whose status
    just changed to sent or failed (`offer`: the campaign's, or LOOK_UP; pairs with None have
    nothing to settle and are left out by the caller). The messages, their campaigns' offers and
    their grants are read in one query each; the points are credited and the coupons voided
    through rewards' services one member at a time, the grants written in one statement."""
    sent = [(pk, offer) for pk, offer in sent if offer is not None]
    failed = [(pk, offer) for pk, offer in failed if offer is not None]
    if sent:
        _credit_points(sent)
    if failed:
        grants = OfferGrant.objects.select_related("coupon").filter(
            message_id__in=[pk for pk, _offer in failed], coupon__isnull=False
        )
        for grant in sorted(grants, key=lambda grant: (grant.member_id, grant.message_id)):
            if grant.coupon.status == Coupon.Status.ISSUED:
                with transaction.atomic():
                    void_coupon(coupon=grant.coupon, reason_code=Coupon.VoidReason.CAMPAIGN_NOT_SENT)


def _credit_points(sent: list[tuple[int, object]]) -> None:
    from campaigns.selectors.offers import offers_of

    messages = {
        message.pk: message
        for message in OutboxMessage.objects.select_related("campaign", "member").filter(pk__in=[pk for pk, _o in sent])
    }
    looked_up = offers_of({messages[pk].campaign_id for pk, offer in sent if offer is LOOK_UP and pk in messages})
    granted = set(OfferGrant.objects.filter(message_id__in=list(messages)).values_list("message_id", flat=True))
    new_grants = []
    # In member order, as every writer of rewards locks its members: two blocks never deadlock.
    for pk, offer in sorted(sent, key=lambda pair: (getattr(messages.get(pair[0]), "member_id", 0), pair[0])):
        message = messages.get(pk)
        if message is None or pk in granted:
            continue
        if offer is LOOK_UP:
            offer = looked_up.get(message.campaign_id)
        points = offer.points if offer is not None and offer.kind == CampaignOffer.Kind.POINTS else 0
        if not points:
            continue
        entry = credit_campaign_points(
            member=message.member,
            points=points,
            reason_code=Reason.CAMPAIGN,
            reason_params={"name": message.campaign.name},
        )
        if entry is not None:
            new_grants.append(
                OfferGrant(message=message, campaign_id=message.campaign_id, member_id=message.member_id, points=points,
                           ledger_entry=entry)
            )  # fmt: skip
    if new_grants:
        OfferGrant.objects.bulk_create(new_grants)
