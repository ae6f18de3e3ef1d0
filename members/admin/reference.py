"""Reference tables: stores, categories, products, tags and the holiday calendar; members' important dates."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext_lazy, ngettext

from members import holidays as holiday_rules
from members import services
from members.admin.centre import JoinPosterAdminMixin
from members.models import (
    Category,
    Holiday,
    ImportantDate,
    Product,
    Store,
    Tag,
)

# --- reference tables ------------------------------------------------------------------------


@admin.register(Store)
class StoreAdmin(JoinPosterAdminMixin, admin.ModelAdmin):
    list_display = ["code", "name", "city", "phone", "is_active", "join_poster"]
    list_filter = ["is_active", "city"]
    search_fields = ["code", "name", "city"]


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "parent"]
    list_select_related = ["parent"]
    list_filter = [("parent", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["code", "name"]
    autocomplete_fields = ["parent"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "category", "unit_price", "is_active"]
    list_select_related = ["category"]
    list_filter = ["is_active", ("category", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["sku", "name"]
    autocomplete_fields = ["category"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "member_count"]
    search_fields = ["name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("members"))

    @admin.display(description=gettext_lazy("members"), ordering="member_count")
    def member_count(self, tag):
        return tag.member_count


# --- the holiday calendar (managers edit; marketing reads) -----------------------------------


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    """The shop's holidays: the greetings' dates and lead days, and support's days off. Managers
    add and edit them and switch them off (a switched-off holiday is neither greeted nor a day off)."""

    list_display = ["name_shown", "code", "rule", "date_rule", "next_date", "lead_days", "days_off", "is_active"]
    list_filter = ["is_active", "rule"]
    search_fields = ["code", "name"]
    ordering = ["month", "day", "code"]
    actions = ["switch_on", "switch_off"]
    fieldsets = [
        (None, {"fields": ["name", "code", "is_active"]}),
        (gettext_lazy("Date"), {"fields": ["rule", "month", "day", "weekday"]}),
        (gettext_lazy("Greeting and days off"), {"fields": ["lead_days", "days_off"]}),
    ]

    @admin.display(description=gettext_lazy("name"), ordering="name")
    def name_shown(self, holiday):
        return holiday.display_name

    @admin.display(description=gettext_lazy("date rule"))
    def date_rule(self, holiday):
        return holiday.rule_text

    @admin.display(description=gettext_lazy("next date"))
    def next_date(self, holiday):
        try:
            return holiday_rules.next_date(holiday, timezone.localdate())
        except ValueError:
            return "—"

    @admin.action(description=gettext_lazy("Switch the chosen holidays on"), permissions=["change"])
    def switch_on(self, request, queryset):
        count = queryset.update(is_active=True)
        self.message_user(request, ngettext("%(count)d holiday switched on.", "%(count)d holidays switched on.",
                                            count) % {"count": count})  # fmt: skip

    @admin.action(description=gettext_lazy("Switch the chosen holidays off"), permissions=["change"])
    def switch_off(self, request, queryset):
        count = queryset.update(is_active=False)
        self.message_user(request, ngettext("%(count)d holiday switched off.", "%(count)d holidays switched off.",
                                            count) % {"count": count})  # fmt: skip


@admin.register(ImportantDate)
class ImportantDateAdmin(admin.ModelAdmin):
    """Members' important dates, to find and remove; staff add them on the member's page."""

    list_display = ["member", "label_shown", "month", "day"]
    list_select_related = ["member"]
    list_filter = ["kind", "month"]
    search_fields = ["member__member_no"]
    search_help_text = gettext_lazy("Member number")
    fields = ["member", "kind", "label", "month", "day", "year"]
    readonly_fields = fields

    @admin.display(description=gettext_lazy("important date"))
    def label_shown(self, important_date):
        return important_date.display_label

    def has_add_permission(self, request):
        return False  # added on the member's page, with the consent question

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        services.delete_important_date(important_date=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for important_date in queryset:
            services.delete_important_date(important_date=important_date, actor=request.user)
