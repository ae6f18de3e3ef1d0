"""Provider-approved templates without the ORM: placeholders, filling, and what an SMS costs.

Placeholders are accepted in the three forms the providers show (docs/rules/sending.md):
`${name}` (Aliyun), `{1}` (Tencent, numbered) and `{{first.DATA}}` (WeChat template messages).
Each names a template variable (`name`, `1`, `first`); a template's `variables` maps every one
of them to a field of the member's message context:

    member.name, member.member_no, points_balance, tier, coupon.code, offer_points,
    and an automation's own variables (campaigns.automation_rules.EXTRA_VARIABLES).

SMS length is counted as Aliyun and Tencent count it: the signature `【name】` is part of the
text; up to 70 characters is one SMS; longer text is split into parts of 67 characters each
(the rest carry the joining header). Every character counts as one, Chinese or not.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

PLACEHOLDER = re.compile(
    r"\$\{(?P<aliyun>[A-Za-z_]\w*)\}"  # Aliyun: ${name}
    r"|\{\{(?P<wechat>[A-Za-z_]\w*)\.DATA\}\}"  # WeChat: {{first.DATA}}
    r"|\{(?P<tencent>\d+)\}"  # Tencent: {1}
)
MEMBER_FIELDS = ("member.name", "member.member_no", "points_balance", "tier", "coupon.code", "offer_points")
SINGLE_SMS_CHARS = 70
PART_SMS_CHARS = 67


def placeholders(text: str) -> list[str]:
    """The template variables `text` uses, in order of first appearance."""
    names: list[str] = []
    for match in PLACEHOLDER.finditer(text or ""):
        name = match["aliyun"] or match["wechat"] or match["tencent"]
        if name not in names:
            names.append(name)
    return names


def fill(text: str, params: dict[str, str]) -> str:
    """The text with each placeholder replaced by its value (missing values: empty)."""

    def value(match: re.Match) -> str:
        return str(params.get(match["aliyun"] or match["wechat"] or match["tencent"], ""))

    return PLACEHOLDER.sub(value, text or "")


def context_value(context: dict, field: str) -> str:
    """A context field (`member.name`, `points_balance`, `birthday`, ...) of a message context
    dict (`MessageContext.as_dict()`), as text; empty when absent."""
    value = context
    for part in field.split("."):
        if not isinstance(value, dict) or part not in value:
            return ""
        value = value[part]
    return "" if value is None else str(value)


def params_for(variables: dict[str, str], context: dict) -> dict[str, str]:
    """The template's variables filled from the member's context."""
    return {name: context_value(context, field) for name, field in variables.items()}


def check(*, text: str, variables, allowed_fields) -> dict[str, list[str]]:
    """Problems of a template, by field name ({} when it is good). `allowed_fields` are the
    context fields a variable may name."""
    from django.utils.translation import gettext as _

    errors: dict[str, list[str]] = {}
    if not isinstance(variables, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in variables.items()
    ):
        example = '{"name": "member.name"}'
        message = _("Give the variables as a JSON object of names to fields, e.g. %(example)s.")
        return {"variables": [message % {"example": example}]}
    used = placeholders(text)
    if not used and not (text or "").strip():
        errors["text"] = [_("Enter the approved text of the template.")]
    for name in used:
        if name not in variables:
            errors.setdefault("variables", []).append(
                _("The text uses the variable “%(name)s”; map it to a member field.") % {"name": name}
            )
    for name, field in variables.items():
        if field not in allowed_fields:
            errors.setdefault("variables", []).append(
                _("“%(field)s” (variable “%(name)s”) is not a member field; use one of: %(fields)s.")
                % {"field": field, "name": name, "fields": ", ".join(allowed_fields)}
            )
        elif name not in used:
            errors.setdefault("variables", []).append(
                _("The variable “%(name)s” does not appear in the text.") % {"name": name}
            )
    return errors


@dataclass(frozen=True)
class SmsLength:
    chars: int
    segments: int


def sms_length(text: str, sign_name: str = "") -> SmsLength:
    """Characters (with the 【signature】) and how many SMS the providers bill for them."""
    chars = len(text or "") + (len(sign_name) + 2 if sign_name else 0)
    if chars <= SINGLE_SMS_CHARS:
        return SmsLength(chars=chars, segments=1 if chars else 0)
    return SmsLength(chars=chars, segments=math.ceil(chars / PART_SMS_CHARS))
