"""The admin of `campaigns`, one module per concern; importing them registers their ModelAdmins.

Every change an admin makes goes through a service of `campaigns.services` (settings rows edited
as plain forms use Django's own form save); nothing here writes with the ORM itself
(tests/test_layering.py).
"""

from campaigns.admin import (  # noqa: F401 -- imported to register the admins
    automations,
    campaigns,
    events,
    partners,
    referral,
    segments,
    templates,
    wechat_log,
)
