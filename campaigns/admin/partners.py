"""Admin of partner marketing: partners (with their report), offers, code pools (with the import
of a partner's codes), codes and the offers given (read-only)."""

from __future__ import annotations

import csv

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaigns import selectors
from campaigns.models import Partner, PartnerCode, PartnerCodePool, PartnerOffer, PartnerOfferIssue
from campaigns.services import partners
from loyalty_crm.admin_base import ReadOnlyAdmin
from loyalty_crm.admin_site import _bars

REPORT_PERMISSION = "campaigns.view_partner_report"
REPORT_MONTHS = (6, 12, 24)


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "contact", "is_active", "offer_count", "report_link"]
    list_filter = ["is_active"]
    search_fields = ["name", "code"]
    prepopulated_fields = {"code": ["name"]}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(offer_total=Count("offers"))

    @admin.display(description=_("offers"), ordering="offer_total")
    def offer_count(self, obj):
        return obj.offer_total

    @admin.display(description=_("report"))
    def report_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:campaigns_partner_report", args=[obj.pk]), gettext("Report")
        )

    def get_list_display(self, request):
        shown = list(super().get_list_display(request))
        if not request.user.has_perm(REPORT_PERMISSION):
            shown.remove("report_link")
        return shown

    def get_urls(self):
        custom = [
            path("<int:pk>/report/", self.admin_site.admin_view(self.report_view), name="campaigns_partner_report"),
        ]
        return custom + super().get_urls()

    def report_view(self, request, pk: int):
        if not request.user.has_perm(REPORT_PERMISSION):
            raise PermissionDenied
        partner = get_object_or_404(Partner, pk=pk)
        try:
            months = int(request.GET.get("months", 12))
        except ValueError:
            months = 12
        months = months if months in REPORT_MONTHS else 12
        rows = selectors.partner_report(partner=partner, months=months)
        if request.GET.get("format") == "csv":
            return _report_csv(partner, rows)
        issued = [row.coupons_issued for row in rows]
        used = [row.coupons_used for row in rows]
        revenue = [row.revenue for row in rows]
        top_coupons = max(issued + used + [0])
        heights = _bars(issued + used + [top_coupons])  # one scale for both coupon series
        chart = [
            {"row": row, "issued_height": heights[i], "used_height": heights[len(rows) + i], "revenue_height": r}
            for i, (row, r) in enumerate(zip(rows, _bars(revenue), strict=True))
        ]
        total_issued, total_used = sum(issued), sum(used)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Partner report: %(name)s") % {"name": partner.name},
            "partner": partner,
            "rows": rows,
            "chart": chart,
            "months": months,
            "month_choices": REPORT_MONTHS,
            "totals": {
                "issued": total_issued,
                "used": total_used,
                "rate": selectors.PartnerMonth(
                    month=None, coupons_issued=total_issued, coupons_used=total_used
                ).redemption_rate,
                "revenue": sum(revenue),
                "handed_out": sum(row.codes_handed_out for row in rows),
                "accepted": sum(row.codes_accepted for row in rows),
            },
        }
        return TemplateResponse(request, "admin/campaigns/partner_report.html", context)


def _text(value: str) -> str:
    # Spreadsheets run a cell starting with = + - @ as a formula; partner names are typed by staff.
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def _report_csv(partner: Partner, rows) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="partner-{partner.code}-{timezone.localdate():%Y-%m-%d}.csv"'
    )
    response.write("\ufeff")  # so spreadsheet programs read UTF-8 (Chinese partner names)
    writer = csv.writer(response)
    writer.writerow(
        [
            "partner", "month", "coupons_issued", "coupons_used", "redemption_rate_percent", "revenue",
            "codes_handed_out", "codes_accepted",
        ]
    )  # fmt: skip
    for row in rows:
        rate = row.redemption_rate
        writer.writerow(
            [
                _text(partner.name), row.month.strftime("%Y-%m"), row.coupons_issued, row.coupons_used,
                "" if rate is None else str(rate), str(row.revenue), row.codes_handed_out, row.codes_accepted,
            ]
        )  # fmt: skip
    return response


@admin.register(PartnerOffer)
class PartnerOfferAdmin(admin.ModelAdmin):
    list_display = ["name", "partner", "threshold", "coupon_template", "code_pool", "valid_from", "valid_until"]
    list_display += ["is_active", "issue_count"]
    list_select_related = ["partner", "coupon_template", "code_pool", "code_pool__partner"]
    list_filter = ["is_active", "partner"]
    search_fields = ["name", "partner__name"]
    fields = ["partner", "name", "threshold", "coupon_template", "code_pool", "valid_from", "valid_until", "is_active"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(issue_total=Count("issues"))

    @admin.display(description=_("issued"), ordering="issue_total")
    def issue_count(self, obj):
        return obj.issue_total


class ImportCodesForm(forms.Form):
    file = forms.FileField(
        label=_("File of codes"),
        required=False,
        help_text=_("A text or CSV file, one code a line (only the first column is read)."),
    )
    codes = forms.CharField(
        label=_("Or paste the codes"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 40}),
        help_text=_("One code a line. Spaces, dashes and letter case are ignored."),
    )

    def clean(self):
        data = super().clean()
        lines = []
        upload = data.get("file")
        if upload:
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise ValidationError({"file": _("The file is not UTF-8 text.")}) from None
            lines += [row[0] if row else "" for row in csv.reader(text.splitlines())]
        lines += (data.get("codes") or "").splitlines()
        if not any(line.strip() for line in lines):
            raise ValidationError(_("Choose a file or paste the codes."))
        data["lines"] = lines
        return data


@admin.register(PartnerCodePool)
class PartnerCodePoolAdmin(admin.ModelAdmin):
    list_display = ["name", "partner", "purpose", "coupon_template", "valid_until", "is_active"]
    list_display += ["available", "handed_out", "accepted", "import_link"]
    list_select_related = ["partner", "coupon_template"]
    list_filter = ["purpose", "is_active", "partner"]
    search_fields = ["name", "partner__name"]
    fields = ["partner", "name", "purpose", "coupon_template", "valid_from", "valid_until", "is_active"]

    def get_queryset(self, request):
        statuses = PartnerCode.Status
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_available=Count("codes", filter=Q(codes__status=statuses.AVAILABLE)),
                n_issued=Count("codes", filter=Q(codes__status=statuses.ISSUED)),
                n_accepted=Count("codes", filter=Q(codes__status=statuses.ACCEPTED)),
            )
        )

    @admin.display(description=_("available"), ordering="n_available")
    def available(self, obj):
        return obj.n_available

    @admin.display(description=_("handed out"), ordering="n_issued")
    def handed_out(self, obj):
        return obj.n_issued

    @admin.display(description=_("accepted"), ordering="n_accepted")
    def accepted(self, obj):
        return obj.n_accepted

    @admin.display(description=_("codes"))
    def import_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:campaigns_partnercodepool_import", args=[obj.pk]), gettext("Import")
        )

    def get_list_display(self, request):
        shown = list(super().get_list_display(request))
        if not request.user.has_perm("campaigns.add_partnercode"):
            shown.remove("import_link")
        return shown

    def get_urls(self):
        custom = [
            path(
                "<int:pk>/import/",
                self.admin_site.admin_view(self.import_view),
                name="campaigns_partnercodepool_import",
            ),
        ]
        return custom + super().get_urls()

    def import_view(self, request, pk: int):
        if not request.user.has_perm("campaigns.add_partnercode"):
            raise PermissionDenied
        pool = get_object_or_404(PartnerCodePool.objects.select_related("partner"), pk=pk)
        form = ImportCodesForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                result = partners.import_partner_codes(pool=pool, lines=form.cleaned_data["lines"])
            except ValidationError as error:
                for message in error.message_dict.get("codes", error.messages):
                    form.add_error(None, message)
            else:
                self.message_user(
                    request,
                    gettext("%(added)d codes added to “%(pool)s”; %(skipped)d were already there.")
                    % {"added": result.added, "pool": pool, "skipped": result.already_in_pool},
                    messages.SUCCESS,
                )
                return redirect(reverse("admin:campaigns_partnercodepool_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Import codes into “%(pool)s”") % {"pool": pool},
            "form": form,
            "errors": form.errors,
            "pool": pool,
        }
        return TemplateResponse(request, "admin/campaigns/import_codes.html", context)


@admin.register(PartnerCode)
class PartnerCodeAdmin(ReadOnlyAdmin):
    """Codes are added by importing a file into a pool; used ones stay for the record."""

    list_display = ["code", "pool", "status", "member", "external_ref", "coupon", "used_at"]
    list_select_related = ["pool", "pool__partner", "member", "coupon"]
    list_filter = ["status", "pool__purpose", "pool__partner"]
    search_fields = ["code", "member__member_no", "external_ref"]
    show_full_result_count = False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # one at a time, so a used code is never removed
        return actions

    def has_delete_permission(self, request, obj=None):
        # An unused code may be removed (a partner withdrew it); a used one is history.
        allowed = request.user.has_perm("campaigns.delete_partnercode")
        return allowed and (obj is None or obj.status == PartnerCode.Status.AVAILABLE)


@admin.register(PartnerOfferIssue)
class PartnerOfferIssueAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "offer", "member", "purchase_ref", "coupon", "partner_code"]
    list_select_related = ["offer", "offer__partner", "member", "purchase", "coupon", "partner_code"]
    list_filter = ["offer__partner", "created_at"]
    search_fields = ["member__member_no", "purchase__external_ref"]
    show_full_result_count = False

    @admin.display(description=_("purchase"), ordering="purchase__external_ref")
    def purchase_ref(self, obj):
        return f"{obj.purchase.external_ref} (¥{obj.purchase.total})"
