"""Provider-approved message templates (issue 14): what an SMS or WeChat campaign sends.

In mainland China an SMS goes out as a template the provider approved (a code, a signature and
named variables), and a WeChat template message names a template id and fills its fields. A
`MessageTemplate` records that template as the provider shows it and maps each of its variables to
a field of the member's message context (`campaigns.provider_templates`).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from members.models import TimeStamped


class TemplateChannel(models.TextChoices):
    SMS = "sms", _("SMS")
    WECHAT = "wechat", _("WeChat")


class TemplatePurpose(models.TextChoices):
    MARKETING = "marketing", _("Marketing")
    SERVICE = "service", _("Service notice")


class MessageTemplate(TimeStamped):
    """One template approved by the SMS provider or WeChat; validated on save by
    `campaigns.services.message_templates`."""

    name = models.CharField(_("name"), max_length=100)
    channel = models.CharField(_("channel"), max_length=10, choices=TemplateChannel.choices)
    purpose = models.CharField(
        _("purpose"), max_length=10, choices=TemplatePurpose.choices, default=TemplatePurpose.MARKETING
    )
    provider_code = models.CharField(
        _("provider template code"),
        max_length=100,
        help_text=_(
            "SMS: the approved template code (Aliyun SMS_123456789, Tencent 1234567). WeChat: the template id."
        ),
    )
    sign_name = models.CharField(
        _("signature"),
        max_length=50,
        blank=True,
        help_text=_("SMS only, optional: the approved signature name; empty uses the provider's default."),
    )
    text = models.TextField(
        _("approved text"),
        help_text=_(
            "The text exactly as the provider approved it, with its placeholders: ${name} (Aliyun), "
            "{1} (Tencent) or {{first.DATA}} (WeChat)."
        ),
    )
    variables = models.JSONField(
        _("variables"),
        default=dict,
        blank=True,
        help_text=_(
            'Each placeholder of the text → a member field, e.g. {"name": "member.name", "points": "points_balance"}.'
        ),
    )

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ["channel", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_channel_display()})"
