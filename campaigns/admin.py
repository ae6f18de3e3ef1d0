"""The admin of `campaigns`. Each area registers its models in its own module."""

from campaigns import admin_partners, admin_referral  # noqa: F401
