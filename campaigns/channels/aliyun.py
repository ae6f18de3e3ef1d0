"""Aliyun SMS (dysmsapi 2017-05-25, `SendSms`) through the official SDK.

`alibabacloud_dysmsapi20170525` signs each request with ACS3-HMAC-SHA256 (the V3 signature:
headers `x-acs-date`, `x-acs-signature-nonce`, `x-acs-content-sha256`, `Authorization`), with the
parameters in the query string. One message per call: PhoneNumbers (a mainland number without
+86, any other with its country code and no "+", as Aliyun documents), SignName, TemplateCode,
TemplateParam (JSON of the template's named variables, values as strings) and OutId (our
reference, echoed in delivery receipts). Aliyun answers `{"Code": "OK", "BizId": ...}`; the BizId is
the provider's message id that receipts name.

Errors: a business refusal is HTTP 200 with another `Code` (`isv.*`, `isp.*`); a request Aliyun's
gateway refuses is HTTP 4xx/5xx with a `Code` (`SignatureDoesNotMatch`, `Throttling.User`, ...),
which the SDK raises. Both become `ChannelError(code, translated reason, temporary=...)` with
`temporary` only for flow control and system-busy answers; a lost answer is `ChannelInDoubt`.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.channels.base import ChannelError, ChannelInDoubt, TemplateMessage
from campaigns.channels.transport import network_failure


def unreadable_answer(exc: BaseException) -> ChannelInDoubt:
    return ChannelInDoubt(
        "answer.unreadable",
        _("%(provider)s's answer could not be read (%(error)s); the message may have been sent.")
        % {"provider": str(PROVIDER), "error": type(exc).__name__},
    )


PROVIDER = gettext_lazy("Aliyun SMS")

# code: (reason, temporary). Aliyun's API error codes (help.aliyun.com/document_detail/101346).
ERRORS = {
    # flow control and busy: retried later
    "isv.BUSINESS_LIMIT_CONTROL": (gettext_lazy("Aliyun's per-number sending limit was reached; try later."), True),
    "Throttling.User": (gettext_lazy("Aliyun throttled the account's requests; try later."), True),
    "Throttling": (gettext_lazy("Aliyun throttled the account's requests; try later."), True),
    "Throttling.Api": (gettext_lazy("Aliyun throttled the account's requests; try later."), True),
    "isp.SYSTEM_ERROR": (gettext_lazy("Aliyun had a system error; try later."), True),
    "isp.GATEWAY_ERROR": (gettext_lazy("Aliyun had a system error; try later."), True),
    "ServiceUnavailable": (gettext_lazy("Aliyun had a system error; try later."), True),
    "InternalError": (gettext_lazy("Aliyun had a system error; try later."), True),
    "SignatureNonceUsed": (gettext_lazy("Aliyun saw this request's nonce before; try later."), True),
    # the message or the number
    "isv.MOBILE_NUMBER_ILLEGAL": (gettext_lazy("The phone number is not valid for SMS."), False),
    "isv.MOBILE_COUNT_OVER_LIMIT": (gettext_lazy("Too many phone numbers in one request."), False),
    "isv.DOMESTIC_NUMBER_NOT_SUPPORTED": (
        gettext_lazy("An international template cannot be sent to a mainland China number."),
        False,
    ),
    "isv.SMS_TEMPLATE_ILLEGAL": (gettext_lazy("The SMS template does not exist or is not approved."), False),
    "isv.TEMPLATE_MISSING_PARAMETERS": (gettext_lazy("The SMS template's variables are missing values."), False),
    "isv.TEMPLATE_PARAMS_ILLEGAL": (gettext_lazy("The SMS template's variable values are not allowed."), False),
    "isv.INVALID_JSON_PARAM": (gettext_lazy("The SMS template's variables are not valid JSON strings."), False),
    "isv.INVALID_PARAMETERS": (gettext_lazy("Aliyun refused the request's parameters."), False),
    "isv.PARAM_LENGTH_LIMIT": (gettext_lazy("A template variable's value is too long."), False),
    "isv.PARAM_NOT_SUPPORT_URL": (gettext_lazy("A template variable may not hold a link."), False),
    "isv.BLACK_KEY_CONTROL_LIMIT": (gettext_lazy("A template variable holds a blocked word."), False),
    "isv.SMS_CONTENT_ILLEGAL": (gettext_lazy("The message holds content that may not be sent."), False),
    "isv.SMS_SIGNATURE_ILLEGAL": (gettext_lazy("The SMS signature does not exist or is not approved."), False),
    "isv.SMS_SIGN_ILLEGAL": (gettext_lazy("The SMS signature may not be used."), False),
    "isv.SIGN_STATE_ILLEGAL": (gettext_lazy("The SMS signature is not usable."), False),
    "isv.SMS_SIGNATURE_SCENE_ILLEGAL": (
        gettext_lazy("The SMS signature's type does not match the template's type."),
        False,
    ),
    # the account
    "isv.DAY_LIMIT_CONTROL": (gettext_lazy("The account's daily sending limit was reached."), False),
    "isv.MONTH_LIMIT_CONTROL": (gettext_lazy("The account's monthly sending limit was reached."), False),
    "isv.AMOUNT_NOT_ENOUGH": (gettext_lazy("The Aliyun account's balance is too low."), False),
    "isv.OUT_OF_SERVICE": (gettext_lazy("The Aliyun account is suspended (balance too low)."), False),
    "isv.PRODUCT_UN_SUBSCRIPT": (gettext_lazy("The Aliyun account has not activated SMS."), False),
    "isv.PRODUCT_UNSUBSCRIBE": (gettext_lazy("The Aliyun account has not activated SMS."), False),
    "isv.ACCOUNT_NOT_EXISTS": (gettext_lazy("The Aliyun account does not exist."), False),
    "isv.ACCOUNT_ABNORMAL": (gettext_lazy("The Aliyun account is abnormal."), False),
    "isv.DENY_IP_RANGE": (gettext_lazy("Aliyun refuses SMS from this server's IP region."), False),
    "isp.RAM_PERMISSION_DENY": (gettext_lazy("The AccessKey lacks the SMS permission."), False),
    "InvalidAccessKeyId.NotFound": (gettext_lazy("The Aliyun AccessKey ID does not exist."), False),
    "InvalidAccessKeyId.Inactive": (gettext_lazy("The Aliyun AccessKey is disabled."), False),
    "SignatureDoesNotMatch": (
        gettext_lazy("Aliyun refused the request signature (check the AccessKey secret)."),
        False,
    ),
    "IncompleteSignature": (gettext_lazy("Aliyun refused the request signature."), False),
    "InvalidTimeStamp.Expired": (gettext_lazy("Aliyun refused the request time (check the server clock)."), False),
    "MissingParameter": (gettext_lazy("Aliyun refused the request: a parameter is missing."), False),
}


def channel_error(code: str, message: str = "") -> ChannelError:
    """The ChannelError for Aliyun's `code`; an unknown code is permanent, with Aliyun's message."""
    reason, temporary = ERRORS.get(code, (None, code.startswith("isp.") or code.startswith("Throttling")))
    if reason is None:
        reason = _("Aliyun refused the message: %(code)s %(message)s") % {"code": code, "message": message[:200]}
    return ChannelError(code, str(reason), temporary=temporary)


def aliyun_phone(phone: str) -> str:
    """Aliyun's PhoneNumbers form of an E.164 number: mainland without +86, others with the
    country code and no plus sign."""
    digits = phone.strip().replace(" ", "")
    if digits.startswith("+86"):
        return digits[3:]
    if digits.startswith("+"):
        return digits[1:]
    return digits


class AliyunSmsProvider:
    name = "aliyun"
    concurrent_sends = True  # safe from several threads at once (a dispatch batch's send threads)

    def __init__(self):
        from alibabacloud_dysmsapi20170525.client import Client
        from alibabacloud_tea_openapi.utils_models import Config

        timeout_ms = int(settings.SMS_TIMEOUT_SECONDS * 1000)
        self.client = Client(
            Config(
                access_key_id=settings.ALIYUN_SMS_ACCESS_KEY_ID,
                access_key_secret=settings.ALIYUN_SMS_ACCESS_KEY_SECRET,
                endpoint=settings.ALIYUN_SMS_ENDPOINT,
                protocol=settings.ALIYUN_SMS_PROTOCOL,
                connect_timeout=timeout_ms,
                read_timeout=timeout_ms,
            )
        )
        self.sign_name = settings.ALIYUN_SMS_SIGN_NAME

    def send(self, *, phone: str, message: TemplateMessage, reference: str) -> str:
        from alibabacloud_dysmsapi20170525.models import SendSmsRequest
        from darabonba.exceptions import ResponseException

        if not message.template_code:
            raise ChannelError("template_missing", _("This SMS has no provider template code."))
        request = SendSmsRequest(
            phone_numbers=aliyun_phone(phone),
            sign_name=message.sign_name or self.sign_name,
            template_code=message.template_code,
            template_param=json.dumps({k: str(v) for k, v in message.params.items()}, ensure_ascii=False)
            if message.params
            else None,
            out_id=reference,
        )
        try:
            response = self.client.send_sms(request)
        except ResponseException as exc:  # the gateway refused the request (HTTP 4xx/5xx)
            raise channel_error(str(exc.code or "Unknown"), str(getattr(exc, "message", "") or "")) from None
        except Exception as exc:  # network, or an answer that is not Aliyun's: may have gone out
            raise (network_failure(exc, provider=str(PROVIDER)) or unreadable_answer(exc)) from None
        body = response.body
        if body is None or body.code != "OK":
            code = (body.code if body else None) or "Unknown"
            raise channel_error(code, (body.message if body else "") or "")
        if not body.biz_id:
            raise ChannelInDoubt("Unknown", _("Aliyun accepted the message but gave no BizId."))
        return body.biz_id
