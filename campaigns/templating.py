"""Message templates: a sandboxed subset of Django's template language over a small, fixed context.

The context holds plain values only (`member.name`, `member.member_no`, `points_balance`,
`tier`, the campaign offer's `coupon.code` and `offer_points`, and an automation's own variables —
`campaigns.automation_rules.EXTRA_VARIABLES`), never model instances, so a template cannot reach other
attributes or the database. An unknown variable renders empty; saving a campaign lists such
variables as warnings.

The engine is a sandbox: it loads no templates (no `{% include %}`/`{% extends %}`), has no tag
library to `{% load %}`, and knows only the tags in `ALLOWED_TAGS` and the filters in
`ALLOWED_FILTERS` — nothing that makes text out of nothing (`{% lorem %}`, `ljust`), shows the
server's state (`{% debug %}`) or loops. Any other tag or filter is refused when the campaign is
saved, naming it. A message is at most `CAMPAIGN_MESSAGE_MAX_CHARS` characters (10,000), checked
when the template is saved (with sample values) and again on every render.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template import Context, Engine, Library, TemplateSyntaxError, defaultfilters, defaulttags
from django.template.base import Lexer, TokenType, VariableNode
from django.utils.html import escape, linebreaks
from django.utils.translation import gettext as _

from campaigns import personal_variables

ALLOWED_VARIABLES = ("member.name", "member.member_no", "points_balance", "tier", "coupon.code", "offer_points")
DEFAULT_MAX_CHARS = 10_000
# Tags a message may use, with the words that close or continue them.
ALLOWED_TAGS = ("if", "comment", "firstof")
TAG_WORDS = {"elif", "else", "endif", "endcomment"}
ALLOWED_FILTERS = (
    "default", "default_if_none", "upper", "lower", "title", "capfirst", "date", "time",
    "floatformat", "truncatechars", "truncatewords", "yesno", "pluralize", "cut",
)  # fmt: skip
FLOATFORMAT_MAX_DIGITS = 6

sandbox = Library()
for _tag in ALLOWED_TAGS:
    sandbox.tag(_tag, defaulttags.register.tags[_tag])
for _filter in ALLOWED_FILTERS:
    if _filter != "floatformat":
        sandbox.filter(_filter, defaultfilters.register.filters[_filter])


@sandbox.filter(is_safe=True)
def floatformat(value, arg=-1):
    """Django's `floatformat`, with at most `FLOATFORMAT_MAX_DIGITS` decimals (a precision of a
    billion digits would take the worker's memory)."""
    match = re.fullmatch(r"(-?)(\d+)([gu]*)", str(arg))
    if match and int(match[2]) > FLOATFORMAT_MAX_DIGITS:
        arg = f"{match[1]}{FLOATFORMAT_MAX_DIGITS}{match[3]}"
    return defaultfilters.floatformat(value, arg)


class _SandboxEngine(Engine):
    default_builtins = []  # not Django's tags, filters and loader tags: only `sandbox` below


_engine = _SandboxEngine(dirs=[], app_dirs=False, loaders=[], libraries={}, autoescape=False, string_if_invalid="")
_engine.template_builtins = [sandbox]


class MessageTooLong(ValidationError):
    """A rendered subject or body longer than `CAMPAIGN_MESSAGE_MAX_CHARS`."""


def max_chars() -> int:
    return int(getattr(settings, "CAMPAIGN_MESSAGE_MAX_CHARS", DEFAULT_MAX_CHARS))


@dataclass(frozen=True)
class MessageContext:
    name: str
    member_no: str
    points_balance: int
    tier: str
    # Variables an automation adds (its offer's coupon code, the expiring points, ...).
    extra: dict = dataclasses.field(default_factory=dict)
    coupon_code: str = ""  # the campaign offer's coupon, issued for this message
    offer_points: int = 0  # the campaign offer's bonus points

    def as_dict(self) -> dict:
        return {
            **self.extra,
            "member": {"name": self.name, "member_no": self.member_no},
            "points_balance": self.points_balance,
            "tier": self.tier,
            "coupon": {"code": self.coupon_code},
            "offer_points": self.offer_points,
        }


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str

    @property
    def plain(self) -> str:
        """The text part as sent (email tracking replaces its links)."""
        return self.text

    @property
    def html(self) -> str:
        return linebreaks(escape(self.text))


@functools.lru_cache(maxsize=64)
def _compiled(source: str):
    return _engine.from_string(source)


def _refused_tags(source: str) -> list[str]:
    """The tags the template uses that the sandbox does not have, in order of appearance."""
    refused = []
    for token in Lexer(source).tokenize():
        if token.token_type != TokenType.BLOCK:
            continue
        words = token.contents.split()
        name = words[0] if words else ""
        if name and name not in ALLOWED_TAGS and name not in TAG_WORDS and name not in refused:
            refused.append(name)
    return refused


def compile_template(source: str, *, field: str):
    """The compiled template; ValidationError naming `field` and the problem (a tag or filter
    the sandbox refuses, a syntax error, a template longer than a message may be)."""
    source = source or ""
    if len(source) > max_chars():
        raise ValidationError(
            {
                field: [
                    _("The template has %(count)s characters; a message may have at most %(limit)s.")
                    % {"count": len(source), "limit": max_chars()}
                ]
            }
        )
    refused = _refused_tags(source)
    if refused:
        raise ValidationError(
            {
                field: [
                    _("The tag “%(tag)s” cannot be used in messages; allowed tags: %(allowed)s.")
                    % {"tag": name, "allowed": ", ".join(ALLOWED_TAGS)}
                    for name in refused
                ]
            }
        )
    try:
        return _compiled(source)
    except TemplateSyntaxError as exc:
        invalid_filter = re.fullmatch(r"Invalid filter: '(.+)'", str(exc))
        if invalid_filter:
            message = _("The filter “%(filter)s” cannot be used in messages; allowed filters: %(allowed)s.") % {
                "filter": invalid_filter[1],
                "allowed": ", ".join(ALLOWED_FILTERS),
            }
        else:
            message = _("Template error: %(error)s") % {"error": exc}
        raise ValidationError({field: [message]}) from exc
    except RecursionError as exc:
        raise ValidationError({field: [_("Template error: the tags are nested too deeply.")]}) from exc


def unknown_variables(source: str, *, field: str) -> list[str]:
    """The variables the template uses that no member has (they would render empty)."""
    template = compile_template(source, field=field)
    unknown = []
    for node in template.nodelist.get_nodes_by_type(VariableNode):
        var = node.filter_expression.var
        name = getattr(var, "var", None)  # a Variable; a literal string has no `.var`
        allowed = (*ALLOWED_VARIABLES, *personal_variables.names())
        if name is not None and name not in allowed and name not in unknown:
            unknown.append(name)
    return unknown


# What a member's values look like at their longest, to measure a template's output when it is saved.
SAMPLE_CONTEXT = MessageContext(
    name="测" * 40,
    member_no="M" + "0" * 15,
    points_balance=999_999_999,
    tier="钻石会员" * 4,
    coupon_code="C" * 20,
    offer_points=999_999,
)


def check_templates(*, subject: str, body: str) -> list[str]:
    """Validate both templates (ValidationError naming the field and the error: a refused tag or
    filter, a syntax error, a message over the size limit with sample values) and return warnings
    for variables that will render empty."""
    errors = {}
    warnings = []
    labels = {"subject": _("subject"), "body": _("body")}
    for field, source in (("subject", subject), ("body", body)):
        try:
            for name in unknown_variables(source, field=field):
                warnings.append(
                    _("%(field)s: “{{ %(name)s }}” is not a member field and will be empty.")
                    % {"field": labels[field], "name": name}
                )
            samples = {**personal_variables.samples(), **SAMPLE_CONTEXT.as_dict()}
            _render_limited(source, field=field, values=Context(samples, autoescape=False))
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    return warnings


def _render_limited(source: str, *, field: str, values: Context) -> str:
    text = compile_template(source, field=field).render(values)
    if len(text) > max_chars():
        raise MessageTooLong(
            {
                field: [
                    _("The message would have %(count)s characters; at most %(limit)s are allowed.")
                    % {"count": len(text), "limit": max_chars()}
                ]
            }
        )
    return text


def render_message(*, subject: str, body: str, context: MessageContext) -> RenderedMessage:
    """The message for one member; ValidationError (MessageTooLong) when the subject or the body
    comes out longer than `CAMPAIGN_MESSAGE_MAX_CHARS`."""
    values = Context(context.as_dict(), autoescape=False)
    return RenderedMessage(
        subject=" ".join(_render_limited(subject, field="subject", values=values).split()),
        text=_render_limited(body, field="body", values=values).strip(),
    )
