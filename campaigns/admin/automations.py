"""Back office for automations: switch each trigger on or off, set its days, offer, channel and
templates (saved through `campaigns.services.automations.update_automation`), see a holiday's dates and
each occurrence's counts."""

from __future__ import annotations

from types import SimpleNamespace

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from campaigns import automation_rules
from campaigns.models import (
    Automation,
    AutomationOccurrence,
    Campaign,
    Channel,
    MessageTemplate,
    OutboxMessage,
    Segment,
)
from campaigns.services import automations
from loyalty_crm.admin_base import ReadOnlyAdmin
from members.models import Holiday


class AutomationForm(forms.ModelForm):
    channel = forms.ChoiceField(label=_("channel"), choices=Channel.choices)
    language = forms.ChoiceField(label=_("language"), choices=Campaign._meta.get_field("language").choices)
    subject = forms.CharField(label=_("subject"), required=False, max_length=200, help_text=_("Email only."))
    message_template = forms.ModelChoiceField(
        label=_("message template"),
        queryset=MessageTemplate.objects.all(),
        required=False,
        help_text=_("SMS and WeChat: the provider-approved template to send (required for WeChat)."),
    )
    body = forms.CharField(label=_("body"), required=False, widget=forms.Textarea(attrs={"rows": 6, "cols": 80}))
    segment = forms.ModelChoiceField(
        label=_("segment"),
        queryset=Segment.objects.all(),
        required=False,
        help_text=_("Optional: only members of this segment receive it."),
    )

    class Meta:
        model = Automation
        fields = ["enabled", "days_before", "coupon_template", "win_back_rule", "win_back_churn_risk",
                  "win_back_interval_factor"]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        campaign = self.instance.campaign
        defaults = automation_rules.default_message(self.instance)
        for name in automation_rules.CAMPAIGN_FIELDS:
            attribute = f"{name}_id" if name in ("segment", "message_template") else name
            value = getattr(campaign, attribute) if campaign else defaults[name]
            self.initial.setdefault(name, value)
        names = ", ".join(
            f"{{{{ {v} }}}}"
            for v in ("member.name", "member.member_no", "points_balance", "tier")
            + automation_rules.EXTRA_VARIABLES[self.instance.kind]
        )
        self.fields["body"].help_text = _("A template; it can use %(names)s.") % {"names": names}

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            values = {name: getattr(self.instance, name) for name in automation_rules.AUTOMATION_FIELDS}
            values.update(cleaned)  # the fields this kind's form leaves out keep their stored values
            self.warnings = automation_rules.validate_automation(kind=self.instance.kind, values=values)
        except ValidationError as error:
            for field, field_errors in error.message_dict.items():
                self.add_error(field if field in self.fields else None, field_errors)
        return cleaned


@admin.register(Automation)
class AutomationAdmin(admin.ModelAdmin):
    form = AutomationForm
    list_display = ["__str__", "kind", "enabled", "days_before", "channel", "coupon_template", "dates", "last_run_on"]
    list_filter = ["enabled", "kind"]
    list_select_related = ["campaign", "coupon_template"]
    readonly_fields = ["kind", "holiday_shown", "lead_days", "dates", "occurrences", "last_run_on"]

    def get_fieldsets(self, request, obj=None):
        if obj is not None and obj.kind == Automation.Kind.HOLIDAY:
            trigger = ["kind", "holiday_shown", "lead_days", "dates", "enabled", "coupon_template", "last_run_on"]
        else:
            trigger = ["kind", "enabled", "days_before", "coupon_template", "last_run_on"]
        fieldsets = [(None, {"fields": trigger})]
        if obj is not None and obj.kind == Automation.Kind.WIN_BACK:
            rule = ["win_back_rule", "win_back_churn_risk", "win_back_interval_factor"]
            fieldsets.append((_("Who is won back"), {"fields": rule}))
        fieldsets += [
            (_("Message"), {"fields": ["channel", "message_template", "language", "subject", "body", "segment"]}),
            (_("Occurrences"), {"fields": ["occurrences"]}),
        ]
        return fieldsets

    def get_form(self, request, obj=None, change=False, **kwargs):
        names = {name for _title, options in self.get_fieldsets(request, obj) for name in options["fields"]}
        kwargs["fields"] = [name for name in AutomationForm._meta.fields if name in names]
        return super().get_form(request, obj, change, **kwargs)

    def get_queryset(self, request):
        # The calendar's row of each holiday automation, in the same query (no query per row).
        calendar = Holiday.objects.filter(code=OuterRef("holiday"))
        return (
            super()
            .get_queryset(request)
            .annotate(
                holiday_label=Subquery(calendar.values("name")[:1]),
                holiday_rule=Subquery(calendar.values("rule")[:1]),
                holiday_month=Subquery(calendar.values("month")[:1]),
                holiday_day=Subquery(calendar.values("day")[:1]),
                holiday_weekday=Subquery(calendar.values("weekday")[:1]),
                holiday_lead_days=Subquery(calendar.values("lead_days")[:1]),
                holiday_active=Subquery(calendar.values("is_active")[:1]),
            )
        )

    @staticmethod
    def _calendar_row(obj):
        if getattr(obj, "holiday_rule", None) is None:
            return None
        return SimpleNamespace(
            rule=obj.holiday_rule, month=obj.holiday_month, day=obj.holiday_day, weekday=obj.holiday_weekday
        )

    @admin.display(description=_("holiday"))
    def holiday_shown(self, obj):
        if obj.holiday_active is False:
            return _("%(holiday)s (switched off in the holiday calendar)") % {"holiday": obj.holiday_name}
        return obj.holiday_name

    @admin.display(description=_("lead days"))
    def lead_days(self, obj):
        if obj.kind != Automation.Kind.HOLIDAY or obj.holiday_lead_days is None:
            return "—"
        return _("%(days)d (set in the holiday calendar)") % {"days": obj.holiday_lead_days}

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("channel"))
    def channel(self, obj):
        return obj.campaign.get_channel_display() if obj.campaign else "—"

    @admin.display(description=_("holiday dates (this year, next year)"))
    def dates(self, obj):
        days = automation_rules.upcoming_dates(obj, self._calendar_row(obj), timezone.localdate())
        return ", ".join(day.isoformat() for day in days) or "—"

    @admin.display(description=_("occurrences"))
    def occurrences(self, obj):
        rows = (
            AutomationOccurrence.objects.filter(automation=obj)
            .annotate(
                queued=Count("step__outbox_messages"),
                sent=Count("step__outbox_messages", filter=Q(step__outbox_messages__status__in=OutboxMessage.ACCEPTED)),
                skipped=Count(
                    "step__outbox_messages", filter=Q(step__outbox_messages__status=OutboxMessage.Status.SKIPPED)
                ),
            )
            .order_by("-created_at")[:20]
        )
        if not rows:
            return _("None yet.")
        return format_html_join(
            "\n",
            "<div>{}: {} {} · {} {} · {} {}</div>",
            ((row.key, _("queued"), row.queued, _("sent"), row.sent, _("skipped"), row.skipped) for row in rows),
        )

    def save_model(self, request, obj, form, change):
        changes = {name: form.cleaned_data[name] for name in automation_rules.CAMPAIGN_FIELDS}
        changes.update(
            {name: form.cleaned_data[name] for name in automation_rules.AUTOMATION_FIELDS if name in form.cleaned_data}
        )
        warnings = automations.update_automation(automation=obj, actor=request.user, **changes)
        for warning in warnings:
            messages.warning(request, warning)


@admin.register(AutomationOccurrence)
class AutomationOccurrenceAdmin(ReadOnlyAdmin):
    list_display = ["automation", "key", "on", "step", "created_at"]
    list_filter = ["automation"]
    list_select_related = ["automation", "step__campaign"]
