"""Public feedback and survey pages (no account)."""

urlpatterns: list = []
