"""Signals `members` sends for other apps. Handlers must not hold business rules of `members`.

`purchase_recorded(sender=Purchase, purchase=..., actor=...)` — sent by
`members.services.record_purchase` inside its transaction, after the purchase and its lines
are written. `rewards` does not need it (it calls `record_purchase` itself and earns in the
same transaction); it is there for read-side listeners such as caches and analytics. A walk-in
sale (a purchase without a member) sends nothing: its listeners (referral rewards, partner
offers) are about members.

`purchases_recorded(sender=Purchase, purchases=[...], actor=...)` — the same for purchases
recorded in bulk (`members.services.record_purchases`: imports, batch posting, the demo seed):
sent ONCE per call, inside its transaction, with every purchase of the call (lines written),
instead of one `purchase_recorded` per purchase, so a listener can do its work for the whole
batch in a few queries. A listener that wants every purchase connects to both.

`member_registered(sender=Member, member=..., actor=...)` — sent by
`members.services.create_member` once its transaction has COMMITTED (`transaction.on_commit`),
through `send_robust`: a failing listener is logged and never loses the registration. `rewards`
gives the sign-up bonus from it. Members written in bulk by `import_members` are not
"registered" here (they registered elsewhere before) and send nothing.

`interaction_recorded(sender=Interaction, interaction=..., actor=...)` — sent by
`members.services.add_interaction` after commit, the same way. `rewards` gives activity bonuses
for reviews, completed surveys and event attendance from it.

`member_erased(sender=Member, member=...)` — sent by `members.services.erase_member` inside
its transaction, so apps holding data about the member can anonymise their own rows.

`tiers_changed(sender=Member, member_ids=[...])` — declared here (the bottom layer) so that apps
that may not import `rewards` can listen; SENT BY `rewards` (`rewards.services.tiers.
announce_tier_changes`) once the transaction that moved the members' tiers has COMMITTED, through
`send_robust` (`send_after_commit`): once per posting, refund, batch posting or nightly batch, with
every member whose tier moved (sorted ids, no duplicates). The new tier is read through
`members.loyalty`. `feedback` recomputes the priority of the members' open tickets from it.
"""

import logging

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger("members.signals")

purchase_recorded = Signal()
purchases_recorded = Signal()
member_registered = Signal()
interaction_recorded = Signal()
member_erased = Signal()
tiers_changed = Signal()


def send_after_commit(signal: Signal, **kwargs) -> None:
    """Send `signal` once the current transaction commits; a listener's error is logged (with the
    record's id, never personal data) and does not reach the caller."""

    def send():
        for receiver, result in signal.send_robust(**kwargs):
            if isinstance(result, Exception):
                logger.error(
                    "Listener %s of a members signal failed",
                    getattr(receiver, "__qualname__", receiver),
                    exc_info=(type(result), result, result.__traceback__),
                )

    transaction.on_commit(send)
