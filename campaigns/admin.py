"""The back office of `campaigns`. Segments and classification live in `campaigns.admin_segments`."""

from campaigns import admin_segments  # noqa: F401 -- registers the segment and classification admins
