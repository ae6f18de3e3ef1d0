"""Admin for segments (rules as a form, live member count, CSV export) and the classification
(policy, member scores, runs). Writes go through `campaigns.services.segments.save_segment`."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.urls import path, reverse
from django.utils.dates import MONTHS
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from campaigns import model_reasons, segments, tasks
from campaigns.api.views import csv_response
from campaigns.models import Classification, ClassificationPolicy, ClassificationRun, MemberScore, Segment
from campaigns.segment_forms import CHANNEL_CHOICES, FIELD_GROUPS, SegmentAdminForm, SegmentRulesForm
from campaigns.services import segments as segment_services
from loyalty_crm.admin_base import ReadOnlyAdmin, SingletonAdmin
from members.models import Member

RULE_FIELDS = list(segments.RULE_KEYS)  # the rule builder shows every rule the segments understand
# Labels of the keys whose form field has another name or that take several fields.
COMPOUND_LABELS = {
    "not_bought_category_days": gettext_lazy("Bought in the category before, but not lately"),
}


def _describe_value(key: str, value) -> str:
    """One rule's value in words (no queries)."""
    if key in ("bought_product", "bought_category"):
        shown = value[key.removeprefix("bought_")]
        if "within_days" in value:
            shown += " " + _("(last %(days)d days)") % {"days": value["within_days"]}
        return shown
    if key == "not_bought_category_days":
        return _("%(category)s, nothing for %(days)d days") % value
    if key == "points_expiring_within_days":
        shown = _("%(days)d days") % value
        if value.get("min_points", 1) > 1:
            shown += " " + _("(at least %(points)d points)") % {"points": value["min_points"]}
        return shown
    if key in ("churn_risk_min", "churn_risk_max"):
        return f"{value:.0%}"
    if key in ("has_valid_coupon", "paid_plan"):
        return _("yes") if value else _("no")
    return str(value)


def describe_rules(rules: dict) -> str:
    """A short human summary of the rules, without queries (codes as stored)."""
    if not rules:
        return _("All active members")
    labels = dict(Classification.choices)
    parts = []
    for key in RULE_FIELDS:
        if key not in rules:
            continue
        value = rules[key]
        field = SegmentRulesForm.base_fields[key]
        if key == "classification":
            value = ", ".join(str(labels.get(code, code)) for code in value)
        elif key == "consented_channel":
            value = dict(CHANNEL_CHOICES).get(value, value)
        elif key == "birthday_month":
            value = ", ".join(str(MONTHS[m]) for m in (value if isinstance(value, list) else [value]))
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        else:
            value = _describe_value(key, value)
        parts.append(f"{COMPOUND_LABELS.get(key, field.label)}: {value}")
    return "; ".join(parts)


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentAdminForm
    list_display = ["name", "size_shown", "size_computed_at", "rules_summary", "created_by", "updated_at"]
    list_select_related = ["created_by"]
    search_fields = ["name"]
    actions = ["export_members"]
    readonly_fields = ["size_shown", "size_computed_at", "created_by"]
    change_form_template = "admin/campaigns/segment/change_form.html"

    def get_fieldsets(self, request, obj=None):
        fieldsets = [(None, {"fields": ["name", "description"]})]
        for number, (title, names) in enumerate(FIELD_GROUPS):
            options = {"fields": names}
            if number == 0:
                options["description"] = _("All conditions must hold; a condition left empty matches everyone.")
            else:
                options["classes"] = ["segment-group"]
            fieldsets.append((title, options))
        if obj is not None:
            fieldsets.append((_("Count"), {"fields": ["size_shown", "size_computed_at", "created_by"]}))
        return fieldsets

    def has_export_permission(self, request):
        return request.user.has_perm("campaigns.export_segment")

    @admin.display(description=gettext_lazy("size"), ordering="size")
    def size_shown(self, segment):
        return "—" if segment.size is None else segment.size

    @admin.display(description=gettext_lazy("rules"))
    def rules_summary(self, segment):
        return describe_rules(segment.rules)

    def save_model(self, request, obj, form, change):
        segment_services.save_segment(
            segment=obj,
            name=form.cleaned_data["name"],
            description=form.cleaned_data.get("description", ""),
            rules=form.cleaned_rules,
            actor=request.user,
        )

    @admin.action(description=gettext_lazy("Export the members of the segment (CSV)"), permissions=["export"])
    def export_members(self, request, queryset):
        chosen = list(queryset[:2])
        if len(chosen) != 1:
            self.message_user(request, _("Select exactly one segment to export."), messages.WARNING)
            return None
        try:
            segments.validate_rules(chosen[0].rules)
        except ValidationError as error:
            self.message_user(request, "; ".join(error.messages), messages.ERROR)
            return None
        return csv_response(chosen[0])

    def get_urls(self):
        preview = path("preview/", self.admin_site.admin_view(self.preview_view), name="campaigns_segment_preview")
        return [preview, *super().get_urls()]

    def preview_view(self, request):
        """GET with the form's rule fields → `{"size": n, "text": ...}` or 400 `{"errors": {...}}`."""
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        form = SegmentRulesForm(request.GET)
        if not form.is_valid():
            errors = {key: [str(m) for m in messages_] for key, messages_ in form.errors.items()}
            return JsonResponse({"errors": errors}, status=400)
        size = segments.count_members(form.cleaned_rules)
        text = ngettext("%(count)d member matches", "%(count)d members match", size) % {"count": size}
        return JsonResponse({"size": size, "text": text})

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["preview_url"] = reverse(f"{self.admin_site.name}:campaigns_segment_preview")
        return super().render_change_form(request, context, add, change, form_url, obj)


# "Classify now" runs in the request up to this many members, else through the Celery task.
CLASSIFY_NOW_INLINE_MAX_MEMBERS = 50_000


@admin.register(MemberScore)
class MemberScoreAdmin(ReadOnlyAdmin):
    list_display = [
        "member_link",
        "member_name",
        "classification",
        "spend_12m",
        "purchases_12m",
        "recency_days",
        "rfm",
        "churn_shown",
        "clv",
        "as_of",
    ]
    list_select_related = ["member"]
    list_filter = ["classification", "r_score", "f_score", "m_score", "as_of"]
    search_fields = ["member__member_no"]
    search_help_text = gettext_lazy("Member number")
    show_full_result_count = False
    list_per_page = 50
    change_list_template = "admin/campaigns/memberscore/change_list.html"

    @admin.display(description=gettext_lazy("member number"), ordering="member__member_no")
    def member_link(self, score):
        return score.member.member_no

    @admin.display(description=gettext_lazy("name"))
    def member_name(self, score):
        return score.member.name

    @admin.display(description=gettext_lazy("RFM"), ordering="rfm_score")
    def rfm(self, score):
        if score.r_score is None:
            return "—"
        return f"{score.r_score}/{score.f_score}/{score.m_score} ({score.rfm_score})"

    @admin.display(description=gettext_lazy("churn risk"), ordering="churn_risk")
    def churn_shown(self, score):
        return "—" if score.churn_risk is None else f"{score.churn_risk:.0%}"

    def get_urls(self):
        return [
            path(
                "classify-now/",
                self.admin_site.admin_view(self.classify_now_view),
                name="campaigns_memberscore_classify_now",
            ),
            *super().get_urls(),
        ]

    def classify_now_view(self, request):
        """ "Classify now": what the nightly task does, on demand, for whoever may read the scores
        (managers and marketing). A shop of up to CLASSIFY_NOW_INLINE_MAX_MEMBERS members is
        classified in the request (seconds: 10,000 members take well under one); a bigger one
        through the Celery task, so the page does not wait for it."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        limit = getattr(settings, "CLASSIFY_NOW_INLINE_MAX_MEMBERS", CLASSIFY_NOW_INLINE_MAX_MEMBERS)
        if Member.objects.count() <= limit:
            result = tasks.classify_members.run()
            self.message_user(
                request,
                ngettext(
                    "Classified %(count)d member as of %(day)s in %(seconds).1f s; the segments were recounted.",
                    "Classified %(count)d members as of %(day)s in %(seconds).1f s; the segments were recounted.",
                    result["members"],
                )
                % {"count": result["members"], "day": result["as_of"], "seconds": result["seconds"]},
                messages.SUCCESS,
            )
        else:
            tasks.classify_members.delay()
            self.message_user(
                request,
                _("The classification was queued for a worker; refresh this page in a few minutes to see it."),
                messages.INFO,
            )
        return HttpResponseRedirect(reverse("admin:campaigns_memberscore_changelist"))

    def changelist_view(self, request, extra_context=None):
        run = ClassificationRun.objects.first()
        chart = []
        if run is not None:
            top = max(run.counts.values(), default=0) or 1
            labels = dict(Classification.choices)
            chart = [
                {"label": labels.get(code, code), "count": count, "width": round(count * 100 / top)}
                for code, count in run.counts.items()
            ]
        extra_context = {
            **(extra_context or {}),
            "last_run": run,
            "class_chart": chart,
            "model_text": describe_model(run.model) if run is not None else "",
        }
        return super().changelist_view(request, extra_context)


@admin.register(ClassificationRun)
class ClassificationRunAdmin(ReadOnlyAdmin):
    list_display = ["as_of", "started_at", "duration", "members", "counts_shown", "model_shown"]
    fields = ["as_of", "started_at", "finished_at", "members", "counts_shown", "settings", "model"]

    @admin.display(description=gettext_lazy("duration"))
    def duration(self, run):
        return f"{(run.finished_at - run.started_at).total_seconds():.1f} s"

    @admin.display(description=gettext_lazy("members per class"))
    def counts_shown(self, run):
        labels = dict(Classification.choices)
        return ", ".join(f"{labels.get(code, code)}: {count}" for code, count in run.counts.items())

    @admin.display(description=gettext_lazy("CLV model"))
    def model_shown(self, run):
        return describe_model(run.model)


def describe_model(model: dict) -> str:
    """What produced a run's churn risk and CLV, for managers and marketers: the BG/NBD fit with
    its parameters, or the recency rule and why the fit was not used."""
    gg = model.get("gamma_gamma")
    value = (
        f"Gamma-Gamma p={gg['p']:.2f} q={gg['q']:.2f} v={gg['v']:.2f}"
        if gg
        else _("no CLV: %(reason)s") % {"reason": model_reasons.gamma_gamma_reason(model)}
    )
    if model.get("method") == "rule":
        return (
            _(
                "Churn risk from the recency rule (days since the last purchase against the member's own "
                "gap between purchases), not the BG/NBD fit: %(reason)s"
            )
            % {"reason": model_reasons.bgnbd_reason(model)}
            + f"; {value}"
        )
    if not model.get("fitted"):
        return _("not fitted: %(reason)s") % {"reason": model_reasons.bgnbd_reason(model)}
    bg = model["bgnbd"]
    return f"BG/NBD r={bg['r']:.3f} α={bg['alpha']:.2f} a={bg['a']:.3f} b={bg['b']:.3f}; {value}"


@admin.register(ClassificationPolicy)
class ClassificationPolicyAdmin(SingletonAdmin):
    """One policy: the list goes straight to it."""

    fields = ["high_value_share", "window_months", "lapsed_after_days", "clv_horizon_months", "updated_at"]
    readonly_fields = ["updated_at"]

    def load_row(self):
        return ClassificationPolicy.current()
