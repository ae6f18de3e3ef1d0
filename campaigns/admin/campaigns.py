"""Back office for campaigns: drafts, preview, launch and cancel (through the services), results,
the contact policy, and the read-only outbox and SMS log."""

from __future__ import annotations

import csv

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from campaigns import (
    provider_templates,
    recurrence,
    reports,
    results,
    selectors,
    services,
)
from campaigns.admin import analytics as analytics_admin
from campaigns.models import (
    Campaign,
    CampaignChannel,
    CampaignKpiTarget,
    CampaignOccurrence,
    CampaignOffer,
    CampaignPilot,
    Classification,
    ContactPolicy,
    OutboxMessage,
    Repeat,
    SkipReason,
    SmsLog,
)
from campaigns.selectors.estimates import cost_estimate
from campaigns.services import offers, pilots, recurring
from campaigns.services.campaigns import (
    EDITABLE_FIELDS,
    SCHEDULE_FIELDS,
    check_sendable,
    default_sms_sign_name,
    validate_campaign,
)
from loyalty_crm.admin_base import ReadOnlyAdmin, SingletonAdmin
from loyalty_crm.admin_site import _bars
from loyalty_crm.db_routing import replica_reads
from loyalty_crm.errors import DomainError
from members.masking import mask_phone
from members.models import Member


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = list(EDITABLE_FIELDS)
        widgets = {
            "body": forms.Textarea(attrs={"rows": 8, "cols": 80}),
            "repeat_time": forms.TimeInput(format="%H:%M", attrs={"placeholder": "10:00", "size": 6}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "repeat" in self.fields:
            self.fields["repeat"].required = False  # empty means once

    def clean(self):
        cleaned = super().clean()
        if "repeat" in cleaned:
            cleaned["repeat"] = cleaned.get("repeat") or Repeat.ONCE
        if not self.errors:
            try:
                self.warnings = validate_campaign(cleaned)
            except ValidationError as error:
                for field, field_errors in error.message_dict.items():
                    self.add_error(field if field in self.fields else None, field_errors)
        return cleaned


class CampaignOfferInline(admin.StackedInline):
    """The campaign's offer; saved through `campaigns.services.offers.set_offer` (CampaignAdmin.save_formset)."""

    model = CampaignOffer
    extra = 0
    max_num = 1
    can_delete = True
    fields = ["kind", "coupon_template", "points"]
    autocomplete_fields = []

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.status != Campaign.Status.DRAFT:
            return False
        return super().has_change_permission(request, obj)

    has_add_permission = has_change_permission
    has_delete_permission = has_change_permission


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    inlines = [CampaignOfferInline]
    list_display = ["name", "channel", "status", "segment", "start_at", "schedule", "created_by", "created_at"]
    list_filter = ["status", "channel", "repeat"]
    list_select_related = ["segment", "created_by"]
    search_fields = ["name"]
    show_full_result_count = False
    change_form_template = "admin/campaigns/campaign/change_form.html"
    STATUS_FIELDS = ["status", "created_by", "launched_at", "started_at", "completed_at", "cancelled_at"]
    REPEAT_FIELDS = ["repeat", *SCHEDULE_FIELDS]
    SHOWN_FIELDS = ["next_run", "runs", "results"]

    def get_fieldsets(self, request, obj=None):
        main = [name for name in EDITABLE_FIELDS if name not in self.REPEAT_FIELDS]
        fieldsets = [
            (None, {"fields": main}),
            (
                _("Schedule"),
                {
                    "fields": [*self.REPEAT_FIELDS, *(["next_run"] if obj is not None else [])],
                    "description": _(
                        "Once: sent at “start at”. Recurring: sent again every day, week or month at the time "
                        "given (Asia/Shanghai), from “start at” until “repeat until”; each run re-reads the "
                        "segment's members."
                    ),
                },
            ),
        ]
        if obj is not None:
            status_fields = [*self.STATUS_FIELDS, *(["runs"] if obj.is_recurring else []), "results"]
            fieldsets.append((_("Status and results"), {"fields": status_fields}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        if obj.status != Campaign.Status.DRAFT:
            return [*EDITABLE_FIELDS, *self.STATUS_FIELDS, *self.SHOWN_FIELDS]
        return [*self.STATUS_FIELDS, *self.SHOWN_FIELDS]

    @admin.display(description=_("schedule"), ordering="repeat")
    def schedule(self, campaign):
        schedule = recurring.schedule_of(campaign)
        return recurrence.describe(schedule) if schedule else campaign.get_repeat_display()

    @admin.display(description=_("next run"))
    def next_run(self, campaign):
        at = recurring.next_run_at(campaign)
        return date_format(timezone.localtime(at), "DATETIME_FORMAT") if at else "—"

    @admin.display(description=_("runs"))
    def runs(self, campaign):
        """Each run of a recurring campaign with its counts (two queries whatever the number of runs)."""
        occurrences = list(CampaignOccurrence.objects.filter(campaign=campaign).select_related("step")[:100])
        if not occurrences:
            return _("No run yet.")
        counts = selectors.results_by_step([occurrence.step_id for occurrence in occurrences])
        header = format_html(
            "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            _("day"), _("step"), _("Audience"), _("Waiting to be sent"), _("Sent"), _("Skipped"),
        )  # fmt: skip
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    occurrence.on.isoformat(),
                    occurrence.step.number,
                    counts[occurrence.step_id].audience,
                    counts[occurrence.step_id].pending + counts[occurrence.step_id].sending,
                    counts[occurrence.step_id].accepted,
                    counts[occurrence.step_id].skipped_total,
                )
                for occurrence in occurrences
            ),
        )
        return format_html('<table class="campaign-runs">{}{}</table>', header, rows)

    def has_change_permission(self, request, obj=None):
        # Only drafts are edited; a launched campaign's page is read-only (launch/cancel buttons stay).
        if obj is not None and obj.status != Campaign.Status.DRAFT:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Only drafts: a launched campaign's outbox is the record of what was sent.
        if obj is not None and obj.status != Campaign.Status.DRAFT:
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description=_("results"))
    def results(self, campaign):
        figures = selectors.campaign_results(campaign)
        rows = [
            (_("Audience"), figures.audience),
            (_("Waiting to be sent"), figures.pending + figures.sending),
            (_("Sent"), figures.accepted),
            (_("Delivered"), figures.delivered),
            (_("Not delivered"), figures.undelivered),
            (_("Failed"), figures.failed),
            (_("In doubt (a worker stopped while sending)"), figures.in_doubt),
        ] + [(label, figures.skipped.get(reason, 0)) for reason, label in self._skip_labels()]
        return format_html(
            '<table class="campaign-results">{}</table>', format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows)
        )

    @staticmethod
    def _skip_labels():
        return [(reason, _("Skipped: %(reason)s") % {"reason": label}) for reason, label in SkipReason.choices]

    def save_model(self, request, obj, form, change):
        """Through the services: a new draft with `create_campaign`, changes with `update_campaign`."""
        values = {name: form.cleaned_data[name] for name in EDITABLE_FIELDS if name in form.cleaned_data}
        if change:
            saved = services.update_campaign(campaign=obj, actor=request.user, **values)
        else:
            saved = services.create_campaign(actor=request.user, **values)
        obj.pk = saved.campaign.pk
        obj.refresh_from_db()
        for warning in saved.warnings:
            self.message_user(request, warning, messages.WARNING)

    def save_formset(self, request, form, formset, change):
        """The offer inline: through `offers.set_offer` (drafts only, checked there)."""
        if formset.model is not CampaignOffer:
            return super().save_formset(request, form, formset, change)
        campaign = form.instance
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            if not inline_form.has_changed() and inline_form.instance.pk is None:
                continue
            data = inline_form.cleaned_data
            if data.get("DELETE"):
                offers.set_offer(campaign=campaign, kind=None, actor=request.user)
            else:
                offers.set_offer(
                    campaign=campaign,
                    kind=data.get("kind"),
                    coupon_template=data.get("coupon_template"),
                    points=data.get("points") or 0,
                    actor=request.user,
                )

    # --- results --------------------------------------------------------------------------

    def results_view(self, request, object_id):
        """The campaign's results page: figures, repurchase vs control, cost and ROI, and a chart."""
        campaign = get_object_or_404(Campaign, pk=object_id)
        if not self.has_view_permission(request, campaign):
            raise PermissionDenied
        try:
            window_days = int(request.GET.get("window_days") or results.DEFAULT_WINDOW_DAYS)
        except ValueError:
            window_days = results.DEFAULT_WINDOW_DAYS
        window_days = min(max(window_days, 1), 365)
        figures = results.campaign_results(campaign, window_days=window_days)
        funnel = [
            (_("Audience"), figures.audience),
            (_("Sent"), figures.sent),
            (_("Delivered"), figures.delivered),
            (_("Opened"), figures.opened),
            (_("Clicked"), figures.clicked),
            (_("Coupons used"), figures.coupons_redeemed),
            (_("Bought in the window"), figures.recipients.repurchasers),
        ]
        if campaign.channel != "email":
            funnel = [row for row in funnel if row[0] not in (_("Opened"), _("Clicked"))]
        else:  # email has no delivery receipts
            funnel = [row for row in funnel if row[0] != _("Delivered")]
        rates = [
            (_("Recipients"), figures.recipients.repurchase_rate or 0),
            (_("Control group"), figures.control.repurchase_rate or 0),
        ]
        context = {
            **self.admin_site.each_context(request),
            "daily": analytics_admin.daily_charts(campaign),
            "opts": self.model._meta,
            "original": campaign,
            "title": _("Results: %(name)s") % {"name": campaign.name},
            "figures": figures,
            "window_days": window_days,
            "skipped": [(label, figures.skipped.get(reason, 0)) for reason, label in SkipReason.choices],
            "errors": selectors.error_counts(campaign),
            "funnel": [
                {"label": label, "value": value, "height": height}
                for (label, value), height in zip(funnel, _bars([v for _l, v in funnel]), strict=True)
            ],
            "rates": [{"label": label, "value": value, "height": round(value * 100)} for label, value in rates],
        }
        return TemplateResponse(request, "admin/campaigns/campaign/results.html", context)

    REPORT_COLUMNS = (
        "campaigns_sent", "recipients", "participants", "participation_rate", "buyers", "repeat_buyers",
        "repurchase_rate", "coupons_issued", "coupons_redeemed", "redemption_rate",
    )  # fmt: skip
    STORED_VALUE_COLUMNS = (
        "stored_value_topped_up", "stored_value_spent", "stored_value_principal_owed", "stored_value_bonus_owed",
    )  # fmt: skip

    REPORT_LABELS = {
        "campaigns_sent": _("Campaigns sent"),
        "recipients": _("Recipients"),
        "participants": _("Participants"),
        "participation_rate": _("Participation rate"),
        "buyers": _("Buyers"),
        "repeat_buyers": _("Repeat buyers"),
        "repurchase_rate": _("Repurchase rate"),
        "coupons_issued": _("Coupons issued"),
        "coupons_redeemed": _("Coupons used"),
        "redemption_rate": _("Redemption rate"),
        "stored_value_topped_up": _("Topped up"),
        "stored_value_spent": _("Spent"),
        "stored_value_principal_owed": _("Principal owed at month end"),
        "stored_value_bonus_owed": _("Bonus owed at month end"),
    }

    def monthly_report_view(self, request):
        """The monthly marketing review: figures per month, three charts, KPI targets, CSV and PDF
        export; the stored-value section for those who may read the liability. `?month=YYYY-MM`
        picks the last month shown (default: this month)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        stored_value = reports.shows_stored_value(request.user)
        today = timezone.localdate()
        last_day, month_error = analytics_admin.picked_month(request.GET.get("month"), today)
        can_set_targets = request.user.has_perm("campaigns.add_campaignkpitarget")
        with replica_reads():  # the figures from the read replica when there is one (db_routing)
            months = reports.monthly_report(months=12, today=last_day, stored_value=stored_value)
            targets = reports.target_statuses(today=last_day)
        columns = self.REPORT_COLUMNS + (self.STORED_VALUE_COLUMNS if stored_value else ())
        if request.GET.get("format") == "csv":
            response = HttpResponse(content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = (
                f'attachment; filename="campaigns-monthly-report-{months[-1].month:%Y-%m}.csv"'
            )
            response.write("\ufeff")  # so spreadsheet programs read the file as UTF-8
            writer = csv.writer(response)
            writer.writerow([str(_("Month")), *(str(self.REPORT_LABELS[name]) for name in columns)])
            for month in months:
                writer.writerow(
                    [month.month.strftime("%Y-%m")]
                    + [analytics_admin.as_shown(getattr(month, name)) for name in columns]
                )
            return response
        if request.GET.get("format") == "pdf":
            from campaigns.report_pdf import monthly_review_pdf

            response = HttpResponse(
                monthly_review_pdf(months=months, targets=targets, stored_value=stored_value),
                content_type="application/pdf",
            )
            language = "zh-hans" if (translation.get_language() or "").startswith("zh") else "en"
            response["Content-Disposition"] = (
                f'attachment; filename="campaigns-monthly-review-{months[-1].month:%Y-%m}-{language}.pdf"'
            )
            return response
        charts = []
        for metric, label in CampaignKpiTarget.Metric.choices:
            values = [getattr(month, metric) for month in months]
            charts.append(
                {
                    "metric": metric,
                    "label": label,
                    "bars": [
                        {"month": month.month, "value": value, "height": round((value or 0) * 100)}
                        for month, value in zip(months, values, strict=True)
                    ],
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Monthly marketing review"),
            "months": months,
            "picked_month": months[-1].month,
            "month_query": f"month={months[-1].month:%Y-%m}&" if request.GET.get("month") and not month_error else "",
            "month_error": month_error,
            "can_see_analytics": request.user.has_perm(analytics_admin.PERMISSION),
            "charts": charts,
            "targets": targets,
            "can_set_targets": can_set_targets,
            "stored_value": stored_value,
        }
        return TemplateResponse(request, "admin/campaigns/campaign/monthly_report.html", context)

    # --- launch, cancel and preview ---------------------------------------------------------

    def has_launch_permission(self, request, obj=None):
        return request.user.has_perm("campaigns.launch_campaign")

    def get_urls(self):
        custom = [
            path(
                "monthly-report/",
                self.admin_site.admin_view(self.monthly_report_view),
                name="campaigns_campaign_monthly_report",
            ),
            path(
                "programme-analytics/",
                self.admin_site.admin_view(lambda request: analytics_admin.programme_analytics_view(self, request)),
                name="campaigns_programme_analytics",
            ),
            path(
                "<int:object_id>/results/",
                self.admin_site.admin_view(self.results_view),
                name="campaigns_campaign_results",
            ),
            path(
                "<int:object_id>/launch/",
                self.admin_site.admin_view(require_POST(self.launch_view)),
                name="campaigns_campaign_launch",
            ),
            path(
                "<int:object_id>/pilot/",
                self.admin_site.admin_view(require_POST(self.pilot_view)),
                name="campaigns_campaign_pilot",
            ),
            path(
                "<int:object_id>/expand/",
                self.admin_site.admin_view(require_POST(self.expand_view)),
                name="campaigns_campaign_expand",
            ),
            path(
                "<int:object_id>/cancel/",
                self.admin_site.admin_view(require_POST(self.cancel_view)),
                name="campaigns_campaign_cancel",
            ),
        ]
        return custom + super().get_urls()

    def _transition(self, request, object_id, service, done_message):
        if not self.has_launch_permission(request):
            raise PermissionDenied
        campaign = get_object_or_404(Campaign, pk=object_id)
        try:
            campaign = service(campaign=campaign, actor=request.user)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
        except DomainError as error:
            self.message_user(request, error.detail, messages.ERROR)
        else:
            self.message_user(request, done_message % {"name": campaign.name}, messages.SUCCESS)
        return redirect("admin:campaigns_campaign_change", object_id)

    def launch_view(self, request, object_id):
        return self._transition(
            request, object_id, services.launch_campaign, _("“%(name)s” is scheduled and will send at its start time.")
        )

    def pilot_view(self, request, object_id):
        """Launch as a pilot: `sample_pct` (a share) or `classification` from the change page."""
        try:
            sample_pct = int(request.POST.get("sample_pct") or 0) or None
        except ValueError:
            sample_pct = None
        classification = request.POST.get("classification") or ""

        def launch(*, campaign, actor):
            return pilots.launch_pilot(
                campaign=campaign, sample_pct=sample_pct, classification=classification, actor=actor
            )

        return self._transition(request, object_id, launch, _("“%(name)s” is scheduled as a pilot."))

    def expand_view(self, request, object_id):
        def expand(*, campaign, actor):
            pilots.expand_campaign(campaign=campaign, actor=actor)
            return campaign

        return self._transition(request, object_id, expand, _("“%(name)s” is being sent to the rest of its audience."))

    def cancel_view(self, request, object_id):
        return self._transition(request, object_id, services.cancel_campaign, _("“%(name)s” is cancelled."))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        campaign = Campaign.objects.select_related("segment", "message_template").filter(pk=object_id).first()
        if campaign is not None:
            extra_context.update(self._preview_context(request, campaign))
            extra_context["can_launch"] = self.has_launch_permission(request)
            extra_context["pilot"] = CampaignPilot.objects.filter(campaign=campaign).first()
            extra_context["classifications"] = Classification.choices
        return super().change_view(request, object_id, form_url, extra_context)

    def _preview_context(self, request, campaign):
        """The message as a sample member would get it: `?preview=<member number>`, or the first
        member of the audience."""
        member_no = (request.GET.get("preview") or "").strip()
        if member_no:
            member = Member.objects.not_erased().filter(member_no=member_no).first()
        else:
            member = selectors.audience_members(campaign).order_by("pk").first()
        context = {"preview_member": member, "preview_member_no": member_no}
        template = campaign.message_template
        sign_name = (template.sign_name if template else "") or default_sms_sign_name()
        if member is not None:
            try:
                context["preview"] = services.render_for(campaign, member, preview=True)
            except ValidationError as error:
                context["preview_error"] = " ".join(error.messages)
        sample = context["preview"].text if "preview" in context else ""
        if campaign.channel in (CampaignChannel.SMS, CampaignChannel.BEST) and sample:
            context["sms_length"] = provider_templates.sms_length(sample, sign_name)
            context["sms_sign_name"] = sign_name
        if template is not None:
            context["message_template"] = template
            context["template_params"] = sorted(template.variables.items())
        if campaign.status == Campaign.Status.DRAFT:
            context["estimate"] = cost_estimate(campaign, sample_text=sample, sign_name=sign_name)
            try:
                check_sendable(campaign)
            except DomainError as error:
                context["launch_blocked"] = error.detail
        return context


@admin.register(ContactPolicy)
class ContactPolicyAdmin(SingletonAdmin):
    """One row; the list goes straight to it."""

    fieldsets = [
        (_("Quiet hours"), {"fields": ["quiet_hours_start", "quiet_hours_end", "timezone"]}),
        (_("Frequency cap"), {"fields": ["frequency_cap_messages", "frequency_cap_days"]}),
        (_("Send rate"), {"fields": ["email_rate", "sms_rate", "wechat_rate"]}),
        (
            _("Daily budget"),
            {
                "fields": ["email_daily_budget", "sms_daily_budget", "wechat_daily_budget"],
                "description": _(
                    "Messages per channel and day (Asia/Shanghai). Messages over the budget wait for the next day."
                ),
            },
        ),
    ]

    def load_row(self):
        return selectors.contact_policy()

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data[name] for name in form.changed_data}
        services.update_contact_policy(actor=request.user, **values)


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = [
        "id", "campaign", "member_no", "channel", "status", "skip_reason", "error_code", "error", "attempts",
        "retries", "sending_at", "sent_at", "delivered_at", "lease_owner",
    ]  # fmt: skip
    list_filter = ["status", "skip_reason", "channel", "error_code"]
    list_select_related = ["campaign", "member"]
    search_fields = ["member__member_no", "campaign__name"]
    show_full_result_count = False
    raw_id_fields = ["campaign", "step", "member"]

    @admin.display(description=_("member"), ordering="member__member_no")
    def member_no(self, message):
        return message.member.member_no


@admin.register(SmsLog)
class SmsLogAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "reference", "masked_phone", "text"]
    search_fields = ["reference"]
    show_full_result_count = False
    exclude = ["phone"]
    readonly_fields = ["created_at", "reference", "masked_phone", "text"]

    @admin.display(description=_("phone"))
    def masked_phone(self, entry):
        return mask_phone(entry.phone) or "****"  # one spelling of a masked phone everywhere


@admin.register(CampaignKpiTarget)
class CampaignKpiTargetAdmin(admin.ModelAdmin):
    """Managers set marketing KPI targets; the monthly report shows them against the actuals."""

    list_display = ["metric", "baseline_month", "change_percent", "months", "created_at"]
    list_filter = ["metric"]
