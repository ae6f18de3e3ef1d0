"""Tencent Cloud SMS (sms 2021-01-11, `SendSms`) through the official SDK.

`tencentcloud.sms.v20210111.sms_client.SmsClient` signs each request with TC3-HMAC-SHA256 (a JSON
POST; `Authorization: TC3-HMAC-SHA256 Credential=<SecretId>/<date>/sms/tc3_request,
SignedHeaders=content-type;host, Signature=...`, `X-TC-Timestamp`). One message per call:
PhoneNumberSet ["+8613800000000"], SmsSdkAppId, SignName, TemplateId, TemplateParamSet and
SessionContext (our reference). Tencent answers one `SendStatusSet` item per number; its
`SerialNo` is the provider's message id that receipts (`sid`) name.

Batches (`send_batch`, the dispatcher's blocks, SMS_BATCH_SIZE): one SendSms takes up to 200
numbers in PhoneNumberSet but ONE TemplateParamSet for all of them, so only messages with the same
template, signature and filled variables (an announcement without personal variables) share a call
(`batch_key`). Tencent answers a SendStatusSet item per number (its own Code and SerialNo), each
mapped back to its message by PhoneNumber; a request-level error is every message's, a lost answer
leaves all of them in doubt, a number missing from the answer is in doubt.

Template variables: Tencent templates number their variables `{1}`, `{2}`, ... and take an
ordered list. `TemplateMessage.params` maps to that list by key when every key is a number
("1", "2", ...: sorted by number, a gap is refused), else in the dict's insertion order (the
order of the message template's variable mapping).

Errors: the item's `Code` (`Ok` when accepted; `FailedOperation.PhoneNumberInBlacklist`,
`LimitExceeded.PhoneNumberDailyLimit`, ...) or a request-level error the SDK raises
(`TencentCloudSDKException`: `AuthFailure.SignatureFailure`, `RequestLimitExceeded`, ...). Both
become `ChannelError(code, translated reason, temporary=...)`, `temporary` only for frequency
limits and internal errors; a lost answer is `ChannelInDoubt`.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from campaigns.channels.base import ChannelError, ChannelInDoubt, TemplateMessage
from campaigns.channels.transport import network_failure

PROVIDER = gettext_lazy("Tencent Cloud SMS")

_RETRY_LATER = gettext_lazy("Tencent Cloud throttled the requests; try later.")
_BUSY = gettext_lazy("Tencent Cloud had an internal error; try later.")

# code: (reason, temporary). Tencent's SMS error codes (cloud.tencent.com/document/api/382/52075).
ERRORS = {
    # frequency limits and busy: retried later
    "RequestLimitExceeded": (_RETRY_LATER, True),
    "RequestLimitExceeded.GlobalRegionUinLimitExceeded": (_RETRY_LATER, True),
    "RequestLimitExceeded.IPLimitExceeded": (_RETRY_LATER, True),
    "RequestLimitExceeded.UinLimitExceeded": (_RETRY_LATER, True),
    "LimitExceeded.DeliveryFrequencyLimit": (
        gettext_lazy("Tencent Cloud's sending frequency limit was reached; try later."),
        True,
    ),
    "LimitExceeded.PhoneNumberThirtySecondLimit": (
        gettext_lazy("Tencent Cloud's per-number limit (30 seconds) was reached; try later."),
        True,
    ),
    "LimitExceeded.PhoneNumberOneHourLimit": (
        gettext_lazy("Tencent Cloud's per-number limit (one hour) was reached; try later."),
        True,
    ),
    "LimitExceeded.PhoneNumberDailyLimit": (
        gettext_lazy("Tencent Cloud's per-number daily limit was reached; try later."),
        True,
    ),
    "LimitExceeded.PhoneNumberSameContentDailyLimit": (
        gettext_lazy("Tencent Cloud's per-number daily limit for the same text was reached; try later."),
        True,
    ),
    "InternalError": (_BUSY, True),
    "InternalError.OtherError": (_BUSY, True),
    "InternalError.RequestTimeException": (
        gettext_lazy("Tencent Cloud refused the request time (check the server clock)."),
        False,
    ),
    # the message or the number
    "FailedOperation.PhoneNumberInBlacklist": (
        gettext_lazy("The number is on Tencent Cloud's do-not-disturb list (unsubscribed or blocked)."),
        False,
    ),
    "InvalidParameterValue.IncorrectPhoneNumber": (gettext_lazy("The phone number is not valid for SMS."), False),
    "FailedOperation.TemplateIncorrectOrUnapproved": (
        gettext_lazy("The SMS template does not exist or is not approved."),
        False,
    ),
    "FailedOperation.SignatureIncorrectOrUnapproved": (
        gettext_lazy("The SMS signature does not exist or is not approved."),
        False,
    ),
    "FailedOperation.MissingSignature": (gettext_lazy("The SMS signature is missing."), False),
    "FailedOperation.MissingTemplateToModify": (
        gettext_lazy("The SMS template does not exist or is not approved."),
        False,
    ),
    "FailedOperation.ContainSensitiveWord": (gettext_lazy("The message holds content that may not be sent."), False),
    "FailedOperation.InsufficientBalanceInSmsPackage": (
        gettext_lazy("The Tencent Cloud SMS package is used up."),
        False,
    ),
    "FailedOperation.JsonParseFail": (gettext_lazy("Tencent Cloud refused the request's parameters."), False),
    "FailedOperation.FailResolvePacket": (gettext_lazy("Tencent Cloud refused the request's parameters."), False),
    "InvalidParameterValue.TemplateParameterFormatError": (
        gettext_lazy("The SMS template's variable values are not allowed."),
        False,
    ),
    "InvalidParameterValue.TemplateParameterLengthLimit": (
        gettext_lazy("A template variable's value is too long."),
        False,
    ),
    "InvalidParameterValue.ProhibitedUseUrlInTemplateParameter": (
        gettext_lazy("A template variable may not hold a link."),
        False,
    ),
    "InvalidParameterValue.ContentLengthLimit": (gettext_lazy("The message is too long."), False),
    "InvalidParameterValue.SdkAppIdNotExist": (gettext_lazy("The Tencent Cloud SmsSdkAppId does not exist."), False),
    "InvalidParameter": (gettext_lazy("Tencent Cloud refused the request's parameters."), False),
    "InvalidParameterValue": (gettext_lazy("Tencent Cloud refused the request's parameters."), False),
    "MissingParameter": (gettext_lazy("Tencent Cloud refused the request: a parameter is missing."), False),
    "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber": (
        gettext_lazy("Tencent Cloud refused mixing mainland and international numbers."),
        False,
    ),
    "UnauthorizedOperation.RequestIpNotInWhitelist": (
        gettext_lazy("Tencent Cloud refuses SMS from this server's IP address."),
        False,
    ),
    "UnauthorizedOperation.SmsSdkAppIdVerifyFail": (
        gettext_lazy("The Tencent Cloud SmsSdkAppId does not belong to this account."),
        False,
    ),
    "UnauthorizedOperation.ServiceSuspendDueToArrears": (
        gettext_lazy("The Tencent Cloud account is suspended for arrears."),
        False,
    ),
    "LimitExceeded.AppDailyLimit": (gettext_lazy("The account's daily sending limit was reached."), False),
    "LimitExceeded.DailyLimit": (gettext_lazy("The account's daily sending limit was reached."), False),
    "AuthFailure.SignatureFailure": (
        gettext_lazy("Tencent Cloud refused the request signature (check the SecretKey)."),
        False,
    ),
    "AuthFailure.SignatureExpire": (
        gettext_lazy("Tencent Cloud refused the request time (check the server clock)."),
        False,
    ),
    "AuthFailure.SecretIdNotFound": (gettext_lazy("The Tencent Cloud SecretId does not exist."), False),
    "AuthFailure.InvalidSecretId": (gettext_lazy("The Tencent Cloud SecretId is not valid."), False),
    "AuthFailure.UnauthorizedOperation": (gettext_lazy("The Tencent Cloud key lacks the SMS permission."), False),
}


def channel_error(code: str, message: str = "") -> ChannelError:
    """The ChannelError for Tencent's `code`. An unknown code is permanent with Tencent's message,
    except the InternalError and RequestLimitExceeded families, which Tencent documents as
    transient. `InternalError.Timeout` means Tencent itself does not know: in doubt."""
    if code == "InternalError.Timeout":
        return ChannelInDoubt(code, _("Tencent Cloud timed out sending the message; it may have been sent."))
    if code in ERRORS:
        reason, temporary = ERRORS[code]
        return ChannelError(code, str(reason), temporary=temporary)
    family = code.split(".", 1)[0]
    if family in ("InternalError", "RequestLimitExceeded"):
        return ChannelError(code, str(ERRORS[family][0]), temporary=True)
    reason = _("Tencent Cloud refused the message: %(code)s %(message)s") % {"code": code, "message": message[:200]}
    return ChannelError(code, reason, temporary=False)


def template_params(params: dict) -> list[str]:
    """Tencent's ordered TemplateParamSet for `params` (see the module's docstring)."""
    keys = list(params)
    if keys and all(str(key).isdigit() for key in keys):
        ordered = sorted(keys, key=int)
        if [int(key) for key in ordered] != list(range(1, len(ordered) + 1)):
            raise ChannelError(
                "template_params",
                _("Tencent template variables must be numbered 1, 2, 3… without gaps."),
            )
        keys = ordered
    return [str(params[key]) for key in keys]


def tencent_phone(phone: str) -> str:
    """E.164 with the plus sign (an 11-digit mainland number without a code gets +86)."""
    digits = phone.strip().replace(" ", "")
    if digits.startswith("+"):
        return digits
    if len(digits) == 11 and digits.startswith("1"):
        return "+86" + digits
    return "+" + digits


MAX_BATCH = 200  # PhoneNumberSet: "单次请求最多支持200个手机号"


class TencentSmsProvider:
    name = "tencent"
    concurrent_sends = True  # safe from several threads at once (a dispatch batch's send threads)
    max_batch = MAX_BATCH

    def __init__(self):
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111.sms_client import SmsClient

        http = HttpProfile(
            protocol=settings.TENCENT_SMS_PROTOCOL,
            endpoint=settings.TENCENT_SMS_ENDPOINT,
            reqTimeout=settings.SMS_TIMEOUT_SECONDS,
            keepAlive=True,
        )
        self.client = SmsClient(
            credential.Credential(settings.TENCENT_SMS_SECRET_ID, settings.TENCENT_SMS_SECRET_KEY),
            settings.TENCENT_SMS_REGION,
            ClientProfile(httpProfile=http),
        )
        self.app_id = settings.TENCENT_SMS_SDK_APP_ID
        self.sign_name = settings.TENCENT_SMS_SIGN_NAME

    def send(self, *, phone: str, message: TemplateMessage, reference: str) -> str:
        statuses = self._send_sms([phone], message, reference)
        if len(statuses) != 1:
            raise ChannelInDoubt("Unknown", _("Tencent Cloud answered without the message's status."))
        return self._serial(statuses[0])

    def batch_key(self, message: TemplateMessage):
        """One call carries one TemplateParamSet: only identical messages share it."""
        if not message.template_code:
            return None
        return (message.template_code, message.sign_name, tuple(template_params(message.params)))

    def send_batch(self, items: list[tuple[str, TemplateMessage, str]]) -> list[str | ChannelError]:
        """Send (phone, message, reference) items with one `batch_key` in one SendSms call; each
        item's SerialNo, or its ChannelError. Raises for a request-level error or a lost answer."""
        if len(items) > MAX_BATCH or len({self.batch_key(message) for _p, message, _r in items}) != 1:
            raise ValueError("a SendSms call takes up to 200 numbers of one template and one set of variables")
        phones = [tencent_phone(phone) for phone, _message, _reference in items]
        if len(set(phones)) != len(phones):
            raise ValueError("a SendSms call takes each number once")
        statuses = self._send_sms(
            phones, items[0][1], f"{items[0][2]}+{len(items) - 1}" if len(items) > 1 else items[0][2]
        )
        by_phone = {tencent_phone(status.PhoneNumber or ""): status for status in statuses}
        answers: list[str | ChannelError] = []
        for phone in phones:
            status = by_phone.get(phone)
            if status is None:
                answers.append(ChannelInDoubt("Unknown", _("Tencent Cloud answered without the message's status.")))
                continue
            try:
                answers.append(self._serial(status))
            except ChannelError as exc:
                answers.append(exc)
        return answers

    def _serial(self, status) -> str:
        if status.Code != "Ok":
            raise channel_error(status.Code or "Unknown", status.Message or "")
        if not status.SerialNo:
            raise ChannelInDoubt("Unknown", _("Tencent Cloud accepted the message but gave no SerialNo."))
        return status.SerialNo

    def _send_sms(self, phones: list[str], message: TemplateMessage, reference: str) -> list:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
        from tencentcloud.sms.v20210111 import models

        if not message.template_code:
            raise ChannelError("template_missing", _("This SMS has no provider template code."))
        request = models.SendSmsRequest()
        request.PhoneNumberSet = [tencent_phone(phone) for phone in phones]
        request.SmsSdkAppId = self.app_id
        request.SignName = message.sign_name or self.sign_name
        request.TemplateId = message.template_code
        request.TemplateParamSet = template_params(message.params)
        request.SessionContext = reference
        try:
            response = self.client.SendSms(request)
        except TencentCloudSDKException as exc:
            failure = network_failure(exc, provider=str(PROVIDER))
            if failure is not None:
                raise failure from None
            code = exc.get_code() or "Unknown"
            if exc.get_request_id():  # Tencent answered with an error (`Response.Error`)
                raise channel_error(code, exc.get_message() or "") from None
            if code in ("ClientError", "ClientParamsError"):  # refused by the SDK before sending
                raise ChannelError(code, str(exc.get_message() or code)[:200]) from None
            # an HTTP error status, or an answer that is not Tencent's JSON: may have gone out
            raise ChannelInDoubt(
                code,
                _("%(provider)s's answer could not be read (%(error)s); the message may have been sent.")
                % {"provider": str(PROVIDER), "error": code},
            ) from None
        return response.SendStatusSet or []
