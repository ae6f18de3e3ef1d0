"""Aliyun SMS (dysmsapi 2017-05-25, `SendSms` and `SendBatchSms`) through the official SDK.

`alibabacloud_dysmsapi20170525` signs each request with ACS3-HMAC-SHA256 (the V3 signature:
headers `x-acs-date`, `x-acs-signature-nonce`, `x-acs-content-sha256`, `Authorization`), with the
parameters in the query string. One message per call: PhoneNumbers (a mainland number without
+86, any other with its country code and no "+", as Aliyun documents), SignName, TemplateCode,
TemplateParam (JSON of the template's named variables, values as strings) and OutId (our
reference, echoed in delivery receipts). Aliyun answers `{"Code": "OK", "BizId": ...}`.

Batches (`send_batch`, the dispatcher's blocks, SMS_BATCH_SIZE): `SendBatchSms` sends one template
to up to 100 numbers in one call — PhoneNumberJson, SignNameJson and TemplateParamJson are JSON
arrays of equal length, in the form body, TemplateCode and OutId in the query. Aliyun answers ONE
Code and ONE BizId for the whole call, and its delivery receipts name `biz_id` and `phone_number`.
So a message's id here is `<BizId>:<phone tag>` for single and batch sends alike (`message_ref`):
the tag is a keyed hash of the number (no number stored in clear), and the receipt hook computes
the same from a report. A whole-call refusal that one number or one message's variables can cause
(an invalid number, a number's flow control, a variable Aliyun refuses: `PER_MESSAGE_CODES`) sent
nothing, so the block is sent again one message per `SendSms` call, where the refusal falls on the
message that causes it; any other refusal (the template, the signature, the account, throttling)
is every message's. A lost answer leaves every message of the call in doubt.

Errors: a business refusal is HTTP 200 with another `Code` (`isv.*`, `isp.*`); a request Aliyun's
gateway refuses is HTTP 4xx/5xx with a `Code` (`SignatureDoesNotMatch`, `Throttling.User`, ...),
which the SDK raises. Both become `ChannelError(code, translated reason, temporary=...)` with
`temporary` only for flow control and system-busy answers; a lost answer is `ChannelInDoubt`.
"""

from __future__ import annotations

import hashlib
import hmac
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


# Whole-call refusals of SendBatchSms that one number or one message may cause: nothing was sent,
# so the block goes out again one message per call (the others are sent, the culprit is refused).
PER_MESSAGE_CODES = frozenset(
    {
        "isv.MOBILE_NUMBER_ILLEGAL",
        "isv.BUSINESS_LIMIT_CONTROL",
        "isv.MOBILE_COUNT_OVER_LIMIT",
        "isv.DOMESTIC_NUMBER_NOT_SUPPORTED",
        "isv.TEMPLATE_MISSING_PARAMETERS",
        "isv.TEMPLATE_PARAMS_ILLEGAL",
        "isv.INVALID_JSON_PARAM",
        "isv.INVALID_PARAMETERS",
        "isv.PARAM_LENGTH_LIMIT",
        "isv.PARAM_NOT_SUPPORT_URL",
        "isv.BLACK_KEY_CONTROL_LIMIT",
        "isv.SMS_CONTENT_ILLEGAL",
    }
)
MAX_BATCH = 100  # SendBatchSms: "单次调用最多支持 100 个手机号"


def phone_tags(phone: str) -> list[str]:
    """The tags of `phone` (E.164 or Aliyun's form) under SECRET_KEY, then each fallback key."""
    number = aliyun_phone(phone).encode()
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [hmac.new(f"campaigns.aliyun-sms:{key}".encode(), number, hashlib.sha256).hexdigest()[:16] for key in keys]


def message_ref(biz_id: str, phone: str) -> str:
    """The id of the message Aliyun accepted for `phone` under `biz_id` (one BizId covers a batch)."""
    return f"{biz_id}:{phone_tags(phone)[0]}"


def receipt_refs(biz_id: str, phone_number: str) -> list[str]:
    """The ids a receipt for (`biz_id`, `phone_number`) may name: `message_ref`'s (under the key and
    its fallbacks), then the bare BizId (messages sent one per call before batches)."""
    if not phone_number:
        return [biz_id]
    return [f"{biz_id}:{tag}" for tag in phone_tags(phone_number)] + [biz_id]


def _params_json(params: dict) -> dict:
    return {k: str(v) for k, v in params.items()}


class AliyunSmsProvider:
    name = "aliyun"
    concurrent_sends = True  # safe from several threads at once (a dispatch batch's send threads)
    max_batch = MAX_BATCH

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
            template_param=json.dumps(_params_json(message.params), ensure_ascii=False) if message.params else None,
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
        return message_ref(body.biz_id, phone)

    # --- batches ---

    def batch_key(self, message: TemplateMessage):
        """Messages with equal keys may go in one SendBatchSms call: one template per call."""
        return message.template_code or None

    def send_batch(self, items: list[tuple[str, TemplateMessage, str]]) -> list[str | ChannelError]:
        """Send (phone, message, reference) items of one template in one SendBatchSms call; each
        item's message id, or its ChannelError when the block went out one by one (see the
        module's docstring). Raises ChannelError / ChannelInDoubt for the whole call."""
        from alibabacloud_dysmsapi20170525.models import SendBatchSmsRequest
        from darabonba.exceptions import ResponseException

        if len(items) == 1:
            return [self._one(items[0])]
        if len(items) > MAX_BATCH or len({self.batch_key(message) for _p, message, _r in items}) != 1:
            raise ValueError("a SendBatchSms call takes up to 100 messages of one template")
        messages = [message for _phone, message, _reference in items]
        if not messages[0].template_code:
            raise ChannelError("template_missing", _("This SMS has no provider template code."))
        with_params = any(message.params for message in messages)
        request = SendBatchSmsRequest(
            phone_number_json=json.dumps([aliyun_phone(phone) for phone, _m, _r in items]),
            sign_name_json=json.dumps([m.sign_name or self.sign_name for m in messages], ensure_ascii=False),
            template_code=messages[0].template_code,
            template_param_json=json.dumps([_params_json(m.params) for m in messages], ensure_ascii=False)
            if with_params
            else None,
            out_id=f"{items[0][2]}+{len(items) - 1}"[:255],
        )
        try:
            response = self.client.send_batch_sms(request)
        except ResponseException as exc:  # the gateway refused the whole call (HTTP 4xx/5xx)
            raise channel_error(str(exc.code or "Unknown"), str(getattr(exc, "message", "") or "")) from None
        except Exception as exc:  # network, or an answer that is not Aliyun's: may have gone out
            raise (network_failure(exc, provider=str(PROVIDER)) or unreadable_answer(exc)) from None
        body = response.body
        if body is None or body.code != "OK":
            code = (body.code if body else None) or "Unknown"
            if code in PER_MESSAGE_CODES:  # nothing went out: one call per message finds the culprit
                return [self._one(item) for item in items]
            raise channel_error(code, (body.message if body else "") or "")
        if not body.biz_id:
            raise ChannelInDoubt("Unknown", _("Aliyun accepted the messages but gave no BizId."))
        return [message_ref(body.biz_id, phone) for phone, _message, _reference in items]

    def _one(self, item: tuple[str, TemplateMessage, str]) -> str | ChannelError:
        phone, message, reference = item
        try:
            return self.send(phone=phone, message=message, reference=reference)
        except ChannelError as exc:
            return exc
