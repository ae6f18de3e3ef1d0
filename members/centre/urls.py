"""The member centre's pages, under /m/ (loyalty_crm/urls.py)."""

from django.urls import path  # noqa: F401 (routes are added by the centre's views)

app_name = "centre"

urlpatterns: list = []
