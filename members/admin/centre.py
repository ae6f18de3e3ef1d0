"""The member centre's back office (issue 15): terms and privacy versions, their acceptances, and
the printable "join here" QR poster of a store.

A draft version is edited like any row; "Publish" (`members.services.publish_terms_version`) makes
it the current one, after which it is read-only (a correction is a new version). Acceptances are a
read-only history. The poster (`/admin/members/store/<id>/join-poster/`, and an action on the store
list) is an A4 or A5 page with the store's name and a large QR code of
`SITE_URL/m/join/?store=<code>`, drawn as inline SVG (segno).
"""

from __future__ import annotations

import io
from urllib.parse import urlencode

import segno
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members import services
from members.models import Store, TermsAcceptance, TermsVersion

POSTER_SIZES = ("a4", "a5")


def join_url(store: Store) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/m/join/?{urlencode({'store': store.code})}"


def qr_svg(data: str) -> str:
    out = io.BytesIO()
    segno.make_qr(data, error="q").save(out, kind="svg", border=2, xmldecl=False, svgns=True, omitsize=True)
    return out.getvalue().decode()


def render_posters(request, stores, *, size: str = "a4") -> TemplateResponse:
    size = size if size in POSTER_SIZES else "a4"
    posters = [{"store": store, "url": join_url(store), "qr": mark_safe(qr_svg(join_url(store)))} for store in stores]  # noqa: S308 (segno's own SVG)
    return TemplateResponse(
        request, "admin/members/store/join_poster.html", {"posters": posters, "size": size, "title": _("Join poster")}
    )


@admin.action(description=gettext_lazy("Print join posters (QR code)"), permissions=["view"])
def print_join_posters(modeladmin, request, queryset):
    return render_posters(request, queryset.order_by("code"), size=request.POST.get("size", "a4"))


class JoinPosterAdminMixin:
    """For the store admin: a "join poster" link per store, its page and the list action."""

    actions = [print_join_posters]

    def get_urls(self):
        urls = [
            path(
                "<int:store_id>/join-poster/",
                self.admin_site.admin_view(self.join_poster_view),
                name="members_store_join_poster",
            )
        ]
        return urls + super().get_urls()

    def join_poster_view(self, request, store_id: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        store = get_object_or_404(Store, pk=store_id)
        return render_posters(request, [store], size=request.GET.get("size", "a4"))

    @admin.display(description=gettext_lazy("join poster"))
    def join_poster(self, store: Store):
        url = reverse("admin:members_store_join_poster", args=[store.pk])
        return format_html(
            '<a href="{}" target="_blank">A4</a> · <a href="{}?size=a5" target="_blank">A5</a>', url, url
        )


@admin.register(TermsVersion)
class TermsVersionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "title", "kind", "version", "published_at", "published_by", "acceptance_count"]
    list_filter = ["kind", ("published_at", admin.EmptyFieldListFilter)]
    search_fields = ["title", "version"]
    ordering = ["kind", "-published_at", "-id"]
    actions = ["publish"]
    fields = ["kind", "version", "title", "text", "published_at", "published_by"]
    list_select_related = ["published_by"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_published:
            return self.fields
        return ["published_at", "published_by"]

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_published:
            return False
        return super().has_delete_permission(request, obj)

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).annotate(acceptances_n=Count("acceptances"))

    @admin.display(description=gettext_lazy("accepted by"), ordering="acceptances_n")
    def acceptance_count(self, version: TermsVersion) -> int:
        return version.acceptances_n

    def delete_queryset(self, request, queryset):
        for version in queryset:
            version.delete()  # refuses a published one

    @admin.action(description=gettext_lazy("Publish the selected drafts (members accept them at their next visit)"))
    def publish(self, request, queryset):
        if not request.user.has_perm("members.change_termsversion"):
            raise PermissionDenied
        done = 0
        for version in queryset.order_by("published_at", "pk"):
            try:
                services.publish_terms_version(version=version, actor=request.user)
            except ValidationError as exc:
                self.message_user(request, f"{version}: {' '.join(exc.messages)}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, _("Published %(count)d version(s).") % {"count": done}, messages.SUCCESS)


@admin.register(TermsAcceptance)
class TermsAcceptanceAdmin(admin.ModelAdmin):
    list_display = ["member", "version", "accepted_at", "source"]
    list_filter = ["source", "version"]
    list_select_related = ["member", "version"]
    search_fields = ["member__member_no"]
    raw_id_fields = ["member"]
    date_hierarchy = "accepted_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
