"""`{{ recommendations }}`: the member's recommended products (members' nightly co-purchase table),
their names joined the way the campaign's language writes a list — "、" in Chinese, ", " in English.
Registered from `CampaignsConfig.ready`; "" for a member with no recommendation yet."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from campaigns import personal_variables
from members.selectors import recommended_names


def separator_for(language: str | None) -> str:
    return "、" if (language or "").lower().startswith("zh") else ", "


def resolve(campaign, member) -> str:
    return recommended_names(member, separator=separator_for(getattr(campaign, "language", None)))


def register() -> None:
    personal_variables.register(
        personal_variables.PersonalVariable(
            name="recommendations",
            label=_("Recommended products (the member's top products not yet bought)"),
            # Five long product names: the size check's worst case.
            sample="、".join(["99枝红玫瑰心形礼盒花束"] * 5),
            resolve=resolve,
        )
    )
