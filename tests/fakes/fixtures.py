"""pytest fixtures for the fake provider servers (registered in tests/conftest.py).

- `fake_aliyun_sms`, `fake_tencent_sms`: a started fake (tests/fakes/aliyun_sms.py,
  tencent_sms.py), stopped after the test; its `accepted` list starts empty.
- `aliyun_sms`, `tencent_sms`: the same fake, with the settings pointing the real provider at it
  (`SMS_PROVIDER`, keys, endpoint, protocol http, a 1-second timeout).
"""

from __future__ import annotations

import pytest

from tests.fakes.aliyun_sms import FakeAliyunSms
from tests.fakes.tencent_sms import FakeTencentSms


@pytest.fixture
def fake_aliyun_sms():
    with FakeAliyunSms(hang_seconds=5) as fake:
        yield fake


@pytest.fixture
def fake_tencent_sms():
    with FakeTencentSms(hang_seconds=5) as fake:
        yield fake


@pytest.fixture
def aliyun_sms(fake_aliyun_sms, settings):
    settings.SMS_PROVIDER = "aliyun"
    settings.SMS_TIMEOUT_SECONDS = 1
    settings.ALIYUN_SMS_ACCESS_KEY_ID = fake_aliyun_sms.access_key_id
    settings.ALIYUN_SMS_ACCESS_KEY_SECRET = fake_aliyun_sms.access_key_secret
    settings.ALIYUN_SMS_SIGN_NAME = "会员俱乐部"
    settings.ALIYUN_SMS_ENDPOINT = fake_aliyun_sms.endpoint
    settings.ALIYUN_SMS_PROTOCOL = "http"
    return fake_aliyun_sms


@pytest.fixture
def tencent_sms(fake_tencent_sms, settings):
    settings.SMS_PROVIDER = "tencent"
    settings.SMS_TIMEOUT_SECONDS = 1
    settings.TENCENT_SMS_SECRET_ID = fake_tencent_sms.secret_id
    settings.TENCENT_SMS_SECRET_KEY = fake_tencent_sms.secret_key
    settings.TENCENT_SMS_SDK_APP_ID = fake_tencent_sms.sdk_app_id
    settings.TENCENT_SMS_SIGN_NAME = "会员俱乐部"
    settings.TENCENT_SMS_ENDPOINT = fake_tencent_sms.endpoint
    settings.TENCENT_SMS_PROTOCOL = "http"
    return fake_tencent_sms
