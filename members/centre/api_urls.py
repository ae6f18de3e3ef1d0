"""The member-scoped API, under /api/v1/me/ (loyalty_crm/api/urls.py): the member centre's
features for a WeChat mini-program or an app. Every view authenticates with
`members.centre.session.MemberAuthentication` and allows only `IsMember`."""

from django.urls import path  # noqa: F401 (routes are added by the centre's API views)

urlpatterns: list = []
