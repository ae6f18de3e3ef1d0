"""The admin of designed surveys (builder, results, CSV, answering by phone) and of ticket topics."""

from __future__ import annotations

import csv

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from feedback import survey_forms, survey_results
from feedback import topics as topic_services
from feedback.models import Survey, SurveyQuestion, SurveyResponse, TicketTopic, Topic
from feedback.services import questionnaires
from loyalty_crm.charts import bar_chart
from members.models import Member

PHONE_PERMISSION = "feedback.answer_survey_by_phone"
RESULTS_PERMISSION = "feedback.view_survey_results"


def _count(model):
    rows = model.objects.filter(survey=OuterRef("pk")).order_by().values("survey").annotate(n=Count("id")).values("n")
    return Coalesce(Subquery(rows), 0)


class QuestionFormSet(forms.BaseInlineFormSet):
    """Branching may only look back: the condition's question comes earlier, and the condition is complete."""

    def clean(self):
        super().clean()
        positions = {}
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or form.cleaned_data.get("DELETE") or not form.cleaned_data:
                continue
            data = form.cleaned_data
            if (
                data.get("kind") in ("single", "multiple")
                and len([c for c in (data.get("choices") or "").splitlines() if c.strip()]) < 2
            ):
                form.add_error("choices", _("Give at least two choices, one per line."))
            if form.instance.pk:
                positions[form.instance.pk] = data.get("position") or 0
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if not data or data.get("DELETE"):
                continue
            source, op, value = data.get("show_if_question"), data.get("show_if_operator"), data.get("show_if_value")
            if not source and not op:
                continue
            if not source or not op or not (value or "").strip():
                form.add_error("show_if_question", _("A condition needs a question, a comparison and a value."))
                continue
            if source.survey_id != self.instance.pk:
                form.add_error("show_if_question", _("Choose a question of this survey."))
            elif positions.get(source.pk, source.position) >= (data.get("position") or 0):
                form.add_error("show_if_question", _("A condition can only look at an earlier question."))
            elif op in ("lte", "gte") and not value.strip().lstrip("-").isdigit():
                form.add_error("show_if_value", _("“At most” and “at least” compare with a whole number."))


class SurveyQuestionInline(admin.StackedInline):
    model = SurveyQuestion
    formset = QuestionFormSet
    extra = 0
    fields = [
        ("position", "key", "kind", "required"),
        "text",
        ("choices", "scale_max"),
        ("show_if_question", "show_if_operator", "show_if_value"),
    ]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "show_if_question":
            survey_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            kwargs["queryset"] = SurveyQuestion.objects.filter(survey_id=survey_id or 0).order_by("position")
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "choices" and field is not None:
            field.widget = forms.Textarea(attrs={"rows": 3, "cols": 40})
        return field

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "choices":
            kwargs["widget"] = forms.Textarea(attrs={"rows": 3, "cols": 40})
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def _builtin(self, obj) -> bool:
        return bool(obj and obj.builtin)

    def has_add_permission(self, request, obj=None):
        return not self._builtin(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not self._builtin(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._builtin(obj) and super().has_delete_permission(request, obj)


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ["display_name", "is_active", "builtin", "question_count", "response_count", "tools"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    fields = ["name", "intro", "is_active", "link_valid_days"]
    inlines = [SurveyQuestionInline]
    change_form_template = "admin/feedback/survey/change_form.html"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(n_questions=_count(SurveyQuestion), n_responses=_count(SurveyResponse))
        )

    @admin.display(description=gettext_lazy("name"), ordering="name")
    def display_name(self, obj):
        return obj.display_name

    @admin.display(description=gettext_lazy("questions"), ordering="n_questions")
    def question_count(self, obj):
        return obj.n_questions

    @admin.display(description=gettext_lazy("responses"), ordering="n_responses")
    def response_count(self, obj):
        return obj.n_responses

    @admin.display(description="")
    def tools(self, obj):
        from django.utils.html import format_html

        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            reverse("admin:feedback_survey_results", args=[obj.pk]),
            pgettext("survey", "Results"),
            reverse("admin:feedback_survey_phone", args=[obj.pk]),
            _("By phone"),
        )

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        questionnaires.fill_question_keys(survey=form.instance)
        before = form.instance.versions.order_by("-number").values_list("number", flat=True).first()
        version = questionnaires.current_version(survey=form.instance)
        if before is not None and version.number != before:
            messages.info(
                request,
                _(
                    "The survey already had answers, so your changes start version %(number)d; "
                    "earlier answers keep theirs."
                )
                % {"number": version.number},
            )

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/results/", view(self.results_view), name="feedback_survey_results"),
            path("<int:pk>/results.csv", view(self.results_csv), name="feedback_survey_results_csv"),
            path("<int:pk>/phone/", view(self.phone_view), name="feedback_survey_phone"),
            *super().get_urls(),
        ]

    # --- results ---

    def _survey_for_results(self, request, pk):
        if not request.user.has_perm(RESULTS_PERMISSION):
            raise PermissionDenied
        return get_object_or_404(Survey, pk=pk)

    def results_view(self, request, pk: int):
        survey = self._survey_for_results(request, pk)
        results = survey_results.survey_results(survey)
        labels = _channel_labels()
        charts = [
            {
                "question": question,
                "svg": bar_chart(
                    labels=[label for label, _n in question.distribution],
                    values=[n for _label, n in question.distribution],
                    title=question.text,
                ),
            }
            for question in results.questions
            if question.distribution
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Results: %(survey)s") % {"survey": survey.display_name},
            "survey": survey,
            "results": results,
            "charts": charts,
            "channels": [(labels.get(channel, channel), n) for channel, n in results.by_channel.items()],
            "texts": [{**vars(t), "channel_label": labels.get(t.channel, t.channel)} for t in results.texts],
        }
        return TemplateResponse(request, "admin/feedback/survey/results.html", context)

    def results_csv(self, request, pk: int):
        survey = self._survey_for_results(request, pk)
        header, rows = survey_results.export_rows(survey)

        class Echo:
            def write(self, value):
                return value

        writer = csv.writer(Echo())

        def stream():
            yield "\ufeff"  # Excel opens UTF-8 Chinese text correctly with a BOM
            yield writer.writerow(header)
            for row in rows:
                yield writer.writerow(row)

        response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="survey-{survey.pk}-results.csv"'
        return response

    # --- by phone ---

    def phone_view(self, request, pk: int):
        if not request.user.has_perm(PHONE_PERMISSION):
            raise PermissionDenied
        survey = get_object_or_404(Survey, pk=pk)
        member_no = (request.GET.get("member") or request.POST.get("member") or "").strip()
        member = Member.objects.not_erased().filter(member_no=member_no).first() if member_no else None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Survey by phone: %(survey)s") % {"survey": survey.display_name},
            "survey": survey,
            "member_no": member_no,
            "member": member,
        }
        if member_no and member is None:
            context["member_error"] = _("No member has the number “%(no)s”.") % {"no": member_no}
        if not survey.is_active:
            context["closed"] = True
        if member is None or not survey.is_active:
            return TemplateResponse(request, "admin/feedback/survey/phone.html", context)
        version = questionnaires.current_version(survey=survey)
        raw, errors = {}, {}
        if request.method == "POST":
            raw = survey_forms.raw_answers(request.POST, version.definition)
            try:
                questionnaires.answer_by_phone(survey=survey, member=member, raw=raw, staff=request.user)
            except (ValidationError, questionnaires.SurveyClosed) as error:
                errors = (
                    survey_forms.error_dict(error) if isinstance(error, ValidationError) else {"__all__": str(error)}
                )
            else:
                messages.success(
                    request,
                    _("The answers of %(member)s were recorded (by phone).") % {"member": member.member_no},
                )
                return HttpResponseRedirect(reverse("admin:feedback_survey_phone", args=[survey.pk]))
        context.update(
            {
                "rows": survey_forms.question_rows(version.definition, raw, errors),
                "form_error": errors.get("__all__", ""),
                "has_errors": bool(errors),
                "version": version,
            }
        )
        return TemplateResponse(request, "admin/feedback/survey/phone.html", context, status=400 if errors else 200)


def _channel_labels() -> dict[str, str]:
    return {
        "phone": _("Phone"),
        "email": _("Email"),
        "sms": _("SMS"),
        "wechat": _("WeChat"),
        "web": _("Web"),
    }


# --- topics -------------------------------------------------------------------------------------


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ["display_name", "is_active", "keyword_list", "ticket_count"]
    list_filter = ["is_active"]
    search_fields = ["name", "keywords"]
    fields = ["name", "keywords", "is_active"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_tickets=Count("ticket_topics"))

    @admin.display(description=gettext_lazy("name"), ordering="name")
    def display_name(self, obj):
        return obj.display_name

    @admin.display(description=gettext_lazy("keywords"))
    def keyword_list(self, obj):
        return ", ".join(topic_services.keywords_of(obj))

    @admin.display(description=gettext_lazy("tickets"), ordering="n_tickets")
    def ticket_count(self, obj):
        return obj.n_tickets


class TicketTopicFormSet(forms.BaseInlineFormSet):
    """A ticket form posted without this inline (a form saved before topics existed, a script that
    posts only the work fields) changes no topics instead of failing on the missing management form."""

    actor = None  # the staff member saving the page (set by the inline)

    def full_clean(self):
        if self.is_bound and f"{self.prefix}-TOTAL_FORMS" not in self.data:
            self._errors, self._non_form_errors = [], self.error_class()
            return
        super().full_clean()

    def save(self, commit=True):
        """The topics left on the page become the ticket's topics through `set_ticket_topics` (one
        history event), instead of the inline writing the rows itself."""
        if not commit or not self.is_bound or f"{self.prefix}-TOTAL_FORMS" not in self.data:
            return super().save(commit)
        kept = []
        for form in self.forms:
            if self.can_delete and self._should_delete_form(form):
                continue
            topic = form.cleaned_data.get("topic") if hasattr(form, "cleaned_data") else None
            if topic is not None:
                kept.append(topic)
        from feedback.services.topics import set_ticket_topics

        set_ticket_topics(ticket=self.instance, topics=kept, actor=self.actor)
        self.new_objects, self.changed_objects, self.deleted_objects = [], [], []
        return []


class TicketTopicInline(admin.TabularInline):
    """Topics on a ticket: staff add or remove them; the suggestions (and the words that matched)
    are shown above."""

    model = TicketTopic
    formset = TicketTopicFormSet
    extra = 0
    fields = ["topic", "set_by", "created_at"]
    readonly_fields = ["set_by", "created_at"]
    verbose_name = gettext_lazy("topic")
    verbose_name_plural = gettext_lazy("topics")
    template = "admin/feedback/ticket/topics_inline.html"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "topic":
            kwargs["queryset"] = Topic.objects.filter(is_active=True).order_by("name")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.suggestions = topic_services.suggestions_for(obj) if obj is not None else []
        user = request.user if request.user.is_authenticated else None

        class Form(formset.form):
            def save(self, commit=True):
                if self.instance.pk is None:
                    self.instance.set_by = user
                return super().save(commit)

        formset.form = Form
        formset.actor = user
        return formset
