"""The project's admin site: its header, and the index page — the role's workspace panels
(`loyalty_crm.home`), the dashboard figures, then every app."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty_crm.db_routing import replica_reads

VIEW_MEMBERS = "members.view_member"
VIEW_ALL_STORES = "members.view_all_stores"


def _bars(values: list) -> list[int]:
    """Bar heights in percent of the largest value (a bar above zero stays visible)."""
    top = max([float(v) for v in values] + [0.0])
    if top <= 0:
        return [0 for _v in values]
    return [max(2, round(float(v) * 100 / top)) if v else 0 for v in values]


class LoyaltyAdminSite(admin.AdminSite):
    site_header = _("Loyalty CRM")
    site_title = _("Loyalty CRM")
    index_title = _("Back office")

    def get_urls(self):
        # Imported here: the admin site is built while apps load, before models can be imported.
        from django.urls import path

        from campaigns.admin.events import urls_for as event_urls
        from loyalty_crm.home import find_member_view
        from rewards.till.urls import urls_for

        home = [path("home/find-member/", self.admin_view(find_member_view), name="home_find_member")]
        return home + urls_for(self) + event_urls(self) + super().get_urls()

    def index(self, request, extra_context=None):
        from loyalty_crm.home import STORE_STAFF_PANEL, build_panels

        panels = build_panels(request)
        extra_context = {
            **(extra_context or {}),
            "dashboard": self.dashboard(request),
            "home_panels": panels,
            # The store staff's panel has the till's big button; others keep the counter links.
            "counter_links": [] if any(p.key == STORE_STAFF_PANEL for p in panels) else self.counter_links(request),
        }
        return super().index(request, extra_context)

    def counter_links(self, request) -> list[tuple[str, str]]:
        """(label, URL) of the counter's pages the user may open, shown first on the home page."""
        from django.urls import reverse

        links = []
        if request.user.has_perm("rewards.add_purchaseposting"):
            links.append((_("Till (checkout)"), reverse("admin:till")))
        if request.user.has_perm("rewards.add_purchaserefund"):
            links.append((_("Returns"), reverse("admin:till_returns")))
        return links

    def dashboard(self, request) -> dict | None:
        """The key figures for people who may see members; store staff see their own store's."""
        user = request.user
        if not user.has_perm(VIEW_MEMBERS):
            return None
        # Imported here: the admin site is built while apps load, before models can be imported.
        from members.selectors import dashboard_figures

        store = None
        if not user.has_perm(VIEW_ALL_STORES):
            profile = getattr(user, "staff_profile", None)
            store = profile.store if profile is not None else None
            if store is None:
                return {"no_store": True}
        from loyalty_crm.home import cached_figures, dashboard_key

        today = timezone.localdate()
        with replica_reads():  # from the read replica when there is one (loyalty_crm.db_routing)
            # Shared for a few minutes by everyone who sees the same store (loyalty_crm.home).
            figures, _computed_at = cached_figures(
                dashboard_key(today, store),
                lambda: dashboard_figures(today=today, store=store),
            )
        new_members = [month.new_members for month in figures.months]
        revenue = [month.revenue for month in figures.months]
        return {
            "store": store,
            "figures": figures,
            "chart": [
                {"month": month, "members_height": m, "revenue_height": r}
                for month, m, r in zip(figures.months, _bars(new_members), _bars(revenue), strict=True)
            ],
            "max_new_members": max(new_members, default=0),
            "max_revenue": max(revenue, default=0),
        }
