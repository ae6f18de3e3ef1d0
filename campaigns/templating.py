"""Message templates: Django's template language over a small, fixed context.

The context holds plain values only (`member.name`, `member.member_no`, `points_balance`,
`tier`), never model instances, so a template cannot reach other attributes or the database.
The engine loads no templates from disk (no `{% include %}`/`{% extends %}` of files) and
renders an unknown variable as empty; saving a campaign lists such variables as warnings.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import VariableNode
from django.utils.html import escape, linebreaks
from django.utils.translation import gettext as _

ALLOWED_VARIABLES = ("member.name", "member.member_no", "points_balance", "tier", "coupon.code", "offer_points")

_engine = Engine(dirs=[], app_dirs=False, loaders=[], autoescape=False, string_if_invalid="")


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


def compile_template(source: str, *, field: str):
    try:
        return _compiled(source or "")
    except TemplateSyntaxError as exc:
        raise ValidationError({field: [_("Template error: %(error)s") % {"error": exc}]}) from exc


def unknown_variables(source: str, *, field: str) -> list[str]:
    """The variables the template uses that no member has (they would render empty)."""
    template = compile_template(source, field=field)
    unknown = []
    for node in template.nodelist.get_nodes_by_type(VariableNode):
        var = node.filter_expression.var
        name = getattr(var, "var", None)  # a Variable; a literal string has no `.var`
        if name is not None and name not in ALLOWED_VARIABLES and name not in unknown:
            unknown.append(name)
    return unknown


def check_templates(*, subject: str, body: str) -> list[str]:
    """Validate both templates (ValidationError naming the field and the error) and return
    warnings for variables that will render empty."""
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
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    return warnings


def render_message(*, subject: str, body: str, context: MessageContext) -> RenderedMessage:
    values = Context(context.as_dict(), autoescape=False)
    return RenderedMessage(
        subject=" ".join(compile_template(subject, field="subject").render(values).split()),
        text=compile_template(body, field="body").render(values).strip(),
    )
