"""System checks for the sending channels (registered in CampaignsConfig.ready()).

`manage.py check` (and every start of runserver, migrate, ...):
- campaigns.E050: SMS_PROVIDER names no provider (a typo would otherwise fail every SMS).

`manage.py check --deploy`:
- campaigns.W050: the SMS log provider is in use — text messages are stored, never sent;
- campaigns.W051: a real SMS provider without SMS_RECEIPT_TOKEN — its delivery receipts are all
  refused (403), so no message ever shows as delivered.
Start-up itself (loyalty_crm/settings.py) refuses production without SMS_PROVIDER, or without the
chosen provider's keys.
"""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string

from campaigns.channels import SMS_PROVIDERS, sms_provider_path


@checks.register()
def check_sms_provider_exists(app_configs=None, **kwargs):
    try:
        import_string(sms_provider_path(settings.SMS_PROVIDER))
    except ImportError:
        return [
            checks.Error(
                f"SMS_PROVIDER={settings.SMS_PROVIDER!r} is not a provider.",
                hint="Use one of " + ", ".join(SMS_PROVIDERS) + ", or a dotted path to a provider class.",
                id="campaigns.E050",
            )
        ]
    return []


@checks.register(checks.Tags.security, deploy=True)
def check_sms_provider(app_configs=None, **kwargs):
    found = []
    if sms_provider_path(settings.SMS_PROVIDER) == "campaigns.channels.log.DatabaseSmsProvider":
        found.append(
            checks.Warning(
                "SMS_PROVIDER is `log`: text messages are stored in the SMS log and never reach a phone.",
                hint="Set SMS_PROVIDER=aliyun or tencent and the provider's keys (docs/rules/sending.md).",
                id="campaigns.W050",
            )
        )
    elif settings.SMS_PROVIDER in ("aliyun", "tencent") and not settings.SMS_RECEIPT_TOKEN:
        found.append(
            checks.Warning(
                "SMS_RECEIPT_TOKEN is empty: every delivery receipt is refused, so no SMS shows as delivered.",
                hint="Set SMS_RECEIPT_TOKEN to a long random value and give the provider's console the "
                "callback URL with ?token=<it> (docs/rules/sending.md).",
                id="campaigns.W051",
            )
        )
    return found
