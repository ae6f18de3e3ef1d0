"""SMS_PROVIDER in production mode: refused when unset or missing the chosen provider's keys, and
`check --deploy` warns about the log provider (campaigns.W050) and a missing receipt token (W051).
Each test starts `manage.py` in a subprocess (settings are read once at start-up)."""

from __future__ import annotations

import pytest

from campaigns.channels import DatabaseSmsProvider, TemplateMessage, sms_provider
from campaigns.channels.log import log_text
from campaigns.models import SmsLog
from tests.test_settings_production import check_deploy, production_env  # noqa: F401 (a fixture)


def test_production_refuses_to_start_without_sms_provider(production_env):  # noqa: F811
    del production_env["SMS_PROVIDER"]
    result = check_deploy(production_env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "SMS_PROVIDER" in result.stderr


@pytest.mark.parametrize(
    ("provider", "missing"),
    [
        ("aliyun", "ALIYUN_SMS_ACCESS_KEY_SECRET"),
        ("tencent", "TENCENT_SMS_SECRET_ID"),
    ],
)
def test_production_refuses_a_provider_without_its_keys(production_env, provider, missing):  # noqa: F811
    production_env["SMS_PROVIDER"] = provider
    production_env.pop(missing, None)
    result = check_deploy(production_env)
    assert result.returncode != 0
    assert f"SMS_PROVIDER={provider} needs" in result.stderr and missing in result.stderr


def test_production_with_tencent_and_its_keys_starts_clean(production_env):  # noqa: F811
    production_env.update(
        SMS_PROVIDER="tencent",
        TENCENT_SMS_SECRET_ID="AKIDexample",
        TENCENT_SMS_SECRET_KEY="tencent-secret-key",
        TENCENT_SMS_SDK_APP_ID="1400000000",
        TENCENT_SMS_SIGN_NAME="会员俱乐部",
    )
    result = check_deploy(production_env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_log_provider_said_explicitly_starts_but_check_deploy_warns(production_env):  # noqa: F811
    production_env["SMS_PROVIDER"] = "log"
    result = check_deploy(production_env)
    assert "ImproperlyConfigured" not in result.stderr
    assert result.returncode != 0  # --fail-level WARNING
    assert "campaigns.W050" in result.stdout + result.stderr


def test_check_deploy_warns_when_receipts_have_no_token(production_env):  # noqa: F811
    del production_env["SMS_RECEIPT_TOKEN"]
    result = check_deploy(production_env)
    assert result.returncode != 0
    assert "campaigns.W051" in result.stdout + result.stderr


def test_the_development_default_is_the_log_provider(settings):
    settings.SMS_PROVIDER = "log"
    assert isinstance(sms_provider(), DatabaseSmsProvider)


@pytest.mark.django_db
def test_the_log_provider_stores_the_text_and_the_template(settings):
    settings.SMS_PROVIDER = "log"
    message = TemplateMessage(template_code="SMS_OTP", params={"code": "246810"}, text="验证码246810")
    ref = sms_provider().send(phone="+8613800000000", message=message, reference="otp-1")
    entry = SmsLog.objects.get()
    assert ref == f"db-{entry.pk}" and entry.reference == "otp-1"
    assert entry.text == '验证码246810\n[template SMS_OTP {"code": "246810"}]' == log_text(message)


def test_the_log_provider_stores_plain_text_as_it_is():
    assert log_text(TemplateMessage(template_code="", text="春季回馈")) == "春季回馈"


def test_check_names_an_sms_provider_that_does_not_exist(settings):
    from campaigns.channels.checks import check_sms_provider_exists

    settings.SMS_PROVIDER = "aliyn"
    assert [error.id for error in check_sms_provider_exists()] == ["campaigns.E050"]
    settings.SMS_PROVIDER = "tencent"
    assert check_sms_provider_exists() == []
