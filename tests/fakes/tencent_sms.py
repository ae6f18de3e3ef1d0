"""A fake Tencent Cloud SMS endpoint (sms 2021-01-11 `SendSms`) for tests and benchmarks.

It checks each request as Tencent documents the TC3-HMAC-SHA256 signature ("签名方法 v3"):
- `Authorization: TC3-HMAC-SHA256 Credential=<SecretId>/<date>/sms/tc3_request,
  SignedHeaders=content-type;host, Signature=<hex>`; an unknown SecretId is
  `AuthFailure.SecretIdNotFound`, a malformed header `AuthFailure.InvalidAuthorization`;
  `content-type` and `host` must be signed;
- `X-TC-Timestamp` within 5 minutes of now and of the credential's date (else
  `AuthFailure.SignatureExpire`), `X-TC-Action: SendSms`, `X-TC-Version: 2021-01-11`, `X-TC-Region`;
- the signature recomputed (canonical request → string to sign with the timestamp and credential
  scope → the key derived from "TC3"+SecretKey, date, service and "tc3_request"): a mismatch is
  `AuthFailure.SignatureFailure`;
- the SendSms body: PhoneNumberSet (1–200 numbers), SmsSdkAppId (the configured one, else
  `InvalidParameterValue.SdkAppIdNotExist`), TemplateId (`MissingParameter`), SignName, and
  TemplateParamSet a list of strings.

Request-level errors are HTTP 200 `{"Response": {"Error": {"Code", "Message"}, "RequestId"}}`;
otherwise one `SendStatusSet` item per number, `"Code": "Ok"` with a `SerialNo` when accepted, or
the number's error code (`FailedOperation.PhoneNumberInBlacklist`, ...). TC3 has no nonce:
replays are bounded by the timestamp window only, as at Tencent.

    python -m tests.fakes.tencent_sms --port 9302 --secret-id id --secret-key key --sdk-app-id 1400000000
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import hmac
import json
import re
import time

from tests.fakes.server import Accepted, FakeHandler, FakeProviderServer, e164, serve_forever

ALGORITHM = "TC3-HMAC-SHA256"
SERVICE = "sms"
MAX_CLOCK_SKEW_SECONDS = 300
# Codes answered for the whole request (`Response.Error`) rather than in the number's status.
REQUEST_LEVEL = ("AuthFailure", "RequestLimitExceeded", "MissingParameter", "UnauthorizedOperation")
MESSAGES = {
    "Ok": "send success",
    "FailedOperation.PhoneNumberInBlacklist": "phone number in blacklist",
    "InvalidParameterValue.IncorrectPhoneNumber": "incorrect phone number",
    "LimitExceeded.PhoneNumberDailyLimit": "the number of sms messages sent from a single mobile number every day exceeds the upper limit",  # noqa: E501
    "FailedOperation.TemplateIncorrectOrUnapproved": "template is not approved or not exist",
    "FailedOperation.InsufficientBalanceInSmsPackage": "insufficient balance in sms package",
    "InternalError.OtherError": "other error",
    "RequestLimitExceeded": "Your current request frequency exceeds the limit.",
    "AuthFailure.SignatureFailure": "The provided credentials could not be validated. Please check your signature is correct.",  # noqa: E501
    "AuthFailure.SignatureExpire": "Signature expired. Timestamp and server time cannot differ by more than five minutes.",  # noqa: E501
    "AuthFailure.SecretIdNotFound": "The SecretId is not found, please ensure that your SecretId is correct.",
}
AUTH = re.compile(
    rf"{ALGORITHM} Credential=(?P<id>[^/]+)/(?P<date>\d{{4}}-\d{{2}}-\d{{2}})/(?P<service>[^/]+)/tc3_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})"
)


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def signature(*, secret_key: str, date: str, timestamp: str, method: str, path: str, query: str, headers: dict,
              signed: list[str], body: bytes) -> str:  # fmt: skip
    # Tencent's documented canonical form: header names and values lower-cased and trimmed.
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip().lower()}\n" for name in signed)
    canonical_request = "\n".join(
        [method, path or "/", query, canonical_headers, ";".join(signed), hashlib.sha256(body).hexdigest()]
    )
    scope = f"{date}/{SERVICE}/tc3_request"
    string_to_sign = f"{ALGORITHM}\n{timestamp}\n{scope}\n{hashlib.sha256(canonical_request.encode()).hexdigest()}"
    key = _hmac(_hmac(_hmac(("TC3" + secret_key).encode(), date), SERVICE), "tc3_request")
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


class TencentHandler(FakeHandler):
    fake: FakeTencentSms

    def do_POST(self):
        self.answer()

    def error(self, code: str, message: str = "", phone: str = "") -> None:
        self.fake.record_refusal(phone, code)
        self.send_json(
            200,
            {"Response": {"Error": {"Code": code, "Message": message or MESSAGES.get(code, code)},
                          "RequestId": self.fake.request_id()}},
        )  # fmt: skip

    def answer(self) -> None:
        fake = self.fake
        fake.count_request()
        body = self.read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        path, _, query = self.path.partition("?")
        match = AUTH.fullmatch(headers.get("authorization", ""))
        if not match:
            return self.error("AuthFailure.InvalidAuthorization", "Authorization is not a TC3-HMAC-SHA256 header.")
        secret_key = fake.keys.get(match["id"])
        if secret_key is None:
            return self.error("AuthFailure.SecretIdNotFound")
        signed = match["signed"].split(";")
        if not {"content-type", "host"} <= set(signed) or any(h not in headers for h in signed):
            return self.error("AuthFailure.InvalidAuthorization", "SignedHeaders must include content-type and host.")
        timestamp = headers.get("x-tc-timestamp", "")
        if not timestamp.isdigit():
            return self.error("MissingParameter", "X-TC-Timestamp is missing.")
        if abs(time.time() - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
            return self.error("AuthFailure.SignatureExpire")
        if datetime.datetime.fromtimestamp(int(timestamp), datetime.UTC).strftime("%Y-%m-%d") != match["date"]:
            return self.error("AuthFailure.SignatureExpire", "The credential date is not the timestamp's date.")
        if match["service"] != SERVICE:
            return self.error("AuthFailure.InvalidAuthorization", "The credential's service is not sms.")
        expected = signature(
            secret_key=secret_key,
            date=match["date"],
            timestamp=timestamp,
            method=self.command,
            path=path,
            query=query,
            headers=headers,
            signed=signed,
            body=body,
        )
        if not hmac.compare_digest(expected, match["signature"]):
            return self.error("AuthFailure.SignatureFailure")
        if headers.get("x-tc-action") != "SendSms" or headers.get("x-tc-version") != "2021-01-11":
            return self.error("InvalidAction", "The action or version is not SendSms 2021-01-11.")
        if not headers.get("x-tc-region"):
            return self.error("MissingParameter", "The request is missing a required parameter `Region`.")
        # --- SendSms ---
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            return self.error("FailedOperation.JsonParseFail", "The body is not JSON.")
        phones = params.get("PhoneNumberSet")
        for name in ("PhoneNumberSet", "SmsSdkAppId", "TemplateId"):
            if not params.get(name):
                return self.error("MissingParameter", f"The request is missing a required parameter `{name}`.")
        if not isinstance(phones, list) or not 1 <= len(phones) <= 200:
            return self.error("LimitExceeded.PhoneNumberCountLimit", "PhoneNumberSet holds 1 to 200 numbers.")
        if params["SmsSdkAppId"] != fake.sdk_app_id:
            return self.error("InvalidParameterValue.SdkAppIdNotExist", "SdkAppId not exist.")
        variables = params.get("TemplateParamSet") or []
        if not isinstance(variables, list) or not all(isinstance(v, str) for v in variables):
            return self.error("InvalidParameterValue.TemplateParameterFormatError", "TemplateParamSet holds strings.")
        if len(phones) > 1:
            fake.count_batch()
        for phone in phones:  # a request-level error told for one of the numbers
            behaviour = fake.behaviour(str(phone))
            if behaviour is not None and behaviour.kind == "error" and self.request_level(behaviour):
                return self.error(behaviour.code, phone=e164(str(phone)))
        statuses = []
        misbehaviour = None
        for raw in phones:
            phone = e164(str(raw))
            behaviour = fake.behaviour(phone)
            code = "Ok"
            if behaviour is not None and behaviour.kind == "error":
                code = behaviour.code
            elif not re.fullmatch(r"\+\d{8,15}", phone) or (phone.startswith("+86") and len(phone) != 14):
                code = "InvalidParameterValue.IncorrectPhoneNumber"
            elif fake.templates is not None and params["TemplateId"] not in fake.templates:
                code = "FailedOperation.TemplateIncorrectOrUnapproved"
            serial = ""
            if code == "Ok":
                serial = f"2640:{fake.next_id():019d}"
                hangs = behaviour is not None and behaviour.kind in ("hang", "close")
                misbehaviour = behaviour if hangs else misbehaviour
                fake.record(
                    Accepted(
                        message_id=serial,
                        phone=phone,
                        template_code=params["TemplateId"],
                        params=variables,
                        sign_name=params.get("SignName", ""),
                        reference=params.get("SessionContext", ""),
                        answered=not hangs,
                        extra={
                            "PhoneNumber": raw,
                            "SmsSdkAppId": params["SmsSdkAppId"],
                            **({"batch": True} if len(phones) > 1 else {}),
                        },
                    )
                )
            else:
                fake.record_refusal(phone, code)
            statuses.append(
                {
                    "SerialNo": serial,
                    "PhoneNumber": phone,
                    "Fee": 1 if code == "Ok" else 0,
                    "SessionContext": params.get("SessionContext", ""),
                    "Code": code,
                    "Message": MESSAGES.get(code, code),
                    "IsoCode": "CN" if phone.startswith("+86") else "",
                }
            )
        if self.misbehave(misbehaviour):
            return None
        return self.send_json(200, {"Response": {"SendStatusSet": statuses, "RequestId": fake.request_id()}})

    @staticmethod
    def request_level(behaviour) -> bool:
        if behaviour.level:
            return behaviour.level == "request"
        return behaviour.code.startswith(REQUEST_LEVEL) or behaviour.code == "InternalError"


class FakeTencentSms(FakeProviderServer):
    handler_class = TencentHandler
    name = "tencent-sms"

    def __init__(
        self,
        *,
        secret_id: str = "fake-secret-id",  # noqa: S107 (a fake's test key)
        secret_key: str = "fake-secret-key",  # noqa: S107 (a fake's test key)
        sdk_app_id: str = "1400000000",
        templates: list[str] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.keys = {secret_id: secret_key}
        self.sdk_app_id = sdk_app_id
        self.templates = templates  # None: any template id

    def fail(self, phone: str, code: str, *, level: str = "") -> None:
        """Answer `code` for `phone`: in its SendStatusSet item, or for the whole request
        (`level="request"`; by default for AuthFailure*, RequestLimitExceeded*, MissingParameter,
        UnauthorizedOperation* and InternalError)."""
        super().fail(phone, code, level=level)

    # --- delivery receipts (Tencent's status callback) ---
    def receipt(self, accepted: Accepted, *, delivered: bool = True, errmsg: str = "", report_time=None) -> dict:
        """One report of the callback body (a JSON list of these) for a message the fake accepted."""
        now = report_time or datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8)))
        nationcode, mobile = ("86", accepted.phone[3:]) if accepted.phone.startswith("+86") else ("", accepted.phone)
        return {
            "user_receive_time": now.strftime("%Y-%m-%d %H:%M:%S"),
            "nationcode": nationcode,
            "mobile": mobile,
            "report_status": "SUCCESS" if delivered else "FAIL",
            "errmsg": "DELIVRD" if delivered else (errmsg or "MK:0001"),
            "description": "用户短信送达成功" if delivered else "用户短信接收失败",
            "sid": accepted.message_id,
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake Tencent Cloud SMS endpoint (SendSms, TC3-HMAC-SHA256).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--secret-id", default="fake-secret-id")
    parser.add_argument("--secret-key", default="fake-secret-key")
    parser.add_argument("--sdk-app-id", default="1400000000")
    args = parser.parse_args(argv)
    fake = FakeTencentSms(
        host=args.host,
        port=args.port,
        secret_id=args.secret_id,
        secret_key=args.secret_key,
        sdk_app_id=args.sdk_app_id,
    )
    serve_forever(fake, "Fake Tencent Cloud SMS (set TENCENT_SMS_ENDPOINT to host:port and TENCENT_SMS_PROTOCOL=http)")


if __name__ == "__main__":
    main()
