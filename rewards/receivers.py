"""`rewards` listening to `members`: activity bonuses for sign-up and recorded interactions.

Connected in `RewardsConfig.ready()`. The handlers only translate the signal into a call of
`rewards.services.award_bonus`, which holds the rules (points, once per period). `members` sends
these signals after its transaction commits, so a failing bonus never undoes the registration.
"""

from __future__ import annotations

from members.models import Interaction
from rewards.models import ActivityBonus

# Which recorded interaction earns which activity bonus.
INTERACTION_BONUSES = {
    Interaction.Kind.REVIEW: ActivityBonus.Kind.REVIEW,
    Interaction.Kind.SURVEY: ActivityBonus.Kind.SURVEY,
    Interaction.Kind.EVENT: ActivityBonus.Kind.EVENT,
}


def on_member_registered(sender, *, member, actor=None, **kwargs):
    from rewards.services import award_bonus

    award_bonus(member=member, kind=ActivityBonus.Kind.SIGN_UP, reference=member.member_no, actor=actor)


def on_interaction_recorded(sender, *, interaction, actor=None, **kwargs):
    kind = INTERACTION_BONUSES.get(interaction.kind)
    if kind is None:
        return
    from rewards.services import award_bonus

    award_bonus(
        member=interaction.member,
        kind=kind,
        reference=f"interaction:{interaction.pk}",
        actor=actor,
        at=interaction.occurred_at,
    )
