"""Reference tables: stores, categories, products and tags."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count
from django.utils.translation import gettext_lazy

from members.admin.centre import JoinPosterAdminMixin
from members.models import (
    Category,
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
