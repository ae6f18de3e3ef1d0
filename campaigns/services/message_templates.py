"""Provider-approved message templates: saving them checked (`campaigns.provider_templates`)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from campaigns import personal_variables, provider_templates
from campaigns.automation_rules import EXTRA_VARIABLES
from campaigns.models import MessageTemplate, TemplateChannel, TemplatePurpose

FIELDS = ("name", "channel", "purpose", "provider_code", "sign_name", "text", "variables")


def allowed_fields() -> list[str]:
    """The context fields a template variable may name: the member's, then every automation's own."""
    extras = sorted({name for names in EXTRA_VARIABLES.values() for name in names})
    return [*provider_templates.MEMBER_FIELDS, *personal_variables.names(), *extras]


def validate_message_template(values: dict) -> None:
    """ValidationError naming each bad field: a missing name or code, an unknown channel, a
    placeholder of the text without a variable, a variable naming no member field."""
    errors: dict[str, list[str]] = {}
    if not (values.get("name") or "").strip():
        errors["name"] = [_("Enter a name for the template.")]
    if values.get("channel") not in TemplateChannel.values:
        errors["channel"] = [_("Choose SMS or WeChat.")]
    if values.get("purpose", TemplatePurpose.MARKETING) not in TemplatePurpose.values:
        errors["purpose"] = [_("Choose marketing or service notice.")]
    if not (values.get("provider_code") or "").strip():
        errors["provider_code"] = [_("Enter the template code the provider gave (the template id for WeChat).")]
    if values.get("sign_name") and values.get("channel") != TemplateChannel.SMS:
        errors["sign_name"] = [_("Only SMS templates have a signature.")]
    for field, messages in provider_templates.check(
        text=values.get("text") or "", variables=values.get("variables"), allowed_fields=allowed_fields()
    ).items():
        errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def save_message_template(*, template: MessageTemplate | None = None, actor=None, **values) -> MessageTemplate:
    """Create a template, or change `template`; checked by `validate_message_template`."""
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise ValidationError({field: [_("This field cannot be changed.")] for field in sorted(unknown)})
    if template is not None:
        current = {name: getattr(template, name) for name in FIELDS}
        current.update(values)
        values = current
    values.setdefault("purpose", TemplatePurpose.MARKETING)
    values.setdefault("variables", {})
    values.setdefault("sign_name", "")
    validate_message_template(values)
    values["name"] = values["name"].strip()
    values["provider_code"] = values["provider_code"].strip()
    if template is None:
        return MessageTemplate.objects.create(**values)
    for name, value in values.items():
        setattr(template, name, value)
    template.save()
    return template
