"""Per-member variables a campaign's message may use beyond the member's own fields: a personal,
signed link (`{{ event_link }}` for an event invitation, `{{ survey_link }}` for a questionnaire)
or a list computed for the member (`{{ recommendations }}`).

A feature registers its variable once (from `CampaignsConfig.ready`); the template checks accept
registered names, the size check renders with their samples, and the dispatch (and the admin
preview) resolves only the variables a campaign's text actually uses, for the member the message
goes to. A resolver returns "" when the variable does not apply to the campaign (an invitation link
on a campaign that invites to nothing), never raises for that.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class PersonalVariable:
    name: str  # a plain identifier: {{ event_link }}
    label: object  # a lazy translation, shown in the admin's list of variables
    sample: str  # a value as long as a real one can be, for the size check when a template is saved
    resolve: Callable  # (campaign, member) -> str


_REGISTRY: dict[str, PersonalVariable] = {}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def register(variable: PersonalVariable) -> PersonalVariable:
    if not _NAME.match(variable.name):
        raise ValueError(f"a personal variable is a plain lower-case name, not {variable.name!r}")
    _REGISTRY[variable.name] = variable
    _used.cache_clear()
    return variable


def names() -> tuple[str, ...]:
    return tuple(sorted(_REGISTRY))


def registered() -> list[PersonalVariable]:
    return [_REGISTRY[name] for name in names()]


def samples() -> dict[str, str]:
    return {name: variable.sample for name, variable in _REGISTRY.items()}


@functools.lru_cache(maxsize=256)
def _used(text: str) -> frozenset[str]:
    return frozenset(name for name in _REGISTRY if re.search(r"\{\{\s*" + re.escape(name) + r"(\s*\||\s*\}\})", text))


def used_by(*texts: str) -> frozenset[str]:
    """The registered variables that any of `texts` (subject, body, a message template's mapping)
    uses."""
    found: set[str] = set()
    for text in texts:
        if text:
            found |= _used(text)
    return frozenset(found)


def campaign_texts(campaign) -> list[str]:
    texts = [campaign.subject or "", campaign.body or ""]
    template = getattr(campaign, "message_template", None)
    if template is not None:
        texts.extend("{{ " + field + " }}" for field in (template.variables or {}).values())
    return texts


def values_for(campaign, member, *, preview: bool = False) -> dict[str, str]:
    """The registered variables the campaign's texts use, resolved for `member`; for a preview
    (the admin's, the cost estimate's sample) their samples, so a preview makes no real link."""
    used = used_by(*campaign_texts(campaign))
    if preview:
        return {name: _REGISTRY[name].sample for name in sorted(used)}
    return {name: _REGISTRY[name].resolve(campaign, member) or "" for name in sorted(used)}
