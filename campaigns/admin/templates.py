"""Back office for provider-approved message templates (SMS and WeChat), saved through
`campaigns.services.message_templates` (checked: every placeholder mapped to a member field)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from campaigns import provider_templates
from campaigns.models import MessageTemplate, TemplateChannel
from campaigns.services import message_templates

SAMPLE = {
    "member": {"name": "王小明", "member_no": "M1000000001"},
    "points_balance": 1280,
    "tier": "银卡",
    "coupon": {"code": "CP8K2M"},
    "offer_points": 100,
}


class MessageTemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = list(message_templates.FIELDS)
        widgets = {"text": forms.Textarea(attrs={"rows": 4, "cols": 80})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["variables"].help_text = _(
            "Each placeholder of the text → a member field, as JSON. Fields: %(fields)s."
        ) % {"fields": ", ".join(message_templates.allowed_fields())}

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            try:
                message_templates.validate_message_template(cleaned)
            except ValidationError as error:
                for field, field_errors in error.message_dict.items():
                    self.add_error(field if field in self.fields else None, field_errors)
        return cleaned


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = MessageTemplateForm
    list_display = ["name", "channel", "purpose", "provider_code", "sign_name", "length"]
    list_filter = ["channel", "purpose"]
    search_fields = ["name", "provider_code"]
    readonly_fields = ["sample"]
    fields = [*message_templates.FIELDS, "sample"]

    @admin.display(description=_("length"))
    def length(self, template):
        if template.channel != TemplateChannel.SMS:
            return "—"
        length = provider_templates.sms_length(self.sample_text(template), template.sign_name)
        return _("%(chars)s characters, %(segments)s SMS") % {"chars": length.chars, "segments": length.segments}

    @staticmethod
    def sample_text(template) -> str:
        params = provider_templates.params_for(template.variables or {}, SAMPLE)
        return provider_templates.fill(template.text, params)

    @admin.display(description=_("sample"))
    def sample(self, template):
        if template is None or template.pk is None:
            return "—"
        text = self.sample_text(template)
        if template.channel == TemplateChannel.SMS and template.sign_name:
            text = f"【{template.sign_name}】{text}"
        return format_html(
            '<pre class="template-sample" style="white-space:pre-wrap;font-family:inherit">{}</pre>'
            '<p class="help">{}</p><code>{}</code>',
            text,
            self.length(template),
            json.dumps(provider_templates.params_for(template.variables or {}, SAMPLE), ensure_ascii=False),
        )

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data[name] for name in message_templates.FIELDS}
        saved = message_templates.save_message_template(template=obj if change else None, actor=request.user, **values)
        obj.pk = saved.pk
        obj.refresh_from_db()
