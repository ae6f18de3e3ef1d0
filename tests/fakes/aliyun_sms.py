"""A fake Aliyun SMS endpoint (dysmsapi 2017-05-25 `SendSms`, `SendBatchSms`) for tests and benchmarks.

It checks each request as Aliyun documents the V3 signature ("V3版本请求体&签名机制",
ACS3-HMAC-SHA256, what `alibabacloud_dysmsapi20170525` 4.x sends):
- headers `host`, `x-acs-action` (SendSms), `x-acs-version` (2017-05-25), `x-acs-date` (UTC, within
  15 minutes: else 400 `InvalidTimeStamp.Expired`), `x-acs-signature-nonce` (never seen before:
  else 400 `SignatureNonceUsed`), `x-acs-content-sha256` (the body's SHA-256: else
  `SignatureDoesNotMatch`), `Authorization: ACS3-HMAC-SHA256 Credential=<AccessKeyId>,
  SignedHeaders=...,Signature=...` — an unknown AccessKeyId is 404 `InvalidAccessKeyId.NotFound`;
  `host`, `x-acs-*` and `content-type` (when sent) must be signed;
- the signature recomputed from the canonical request (method, path, sorted percent-encoded query,
  the signed headers lower-cased and trimmed, the hashed payload) with the AccessKey secret: a
  mismatch is 400 `SignatureDoesNotMatch`;
- the SendSms parameters: PhoneNumbers, SignName, TemplateCode required (400 `MissingPhoneNumbers`,
  ...); TemplateParam a JSON object of strings (`isv.INVALID_JSON_PARAM`); a mainland number of 11
  digits or an international one (`isv.MOBILE_NUMBER_ILLEGAL`); optionally the known templates and
  their variables (`isv.SMS_TEMPLATE_ILLEGAL`, `isv.TEMPLATE_MISSING_PARAMETERS`) and signature
  (`isv.SMS_SIGNATURE_ILLEGAL`).

- the SendBatchSms parameters (help.aliyun.com/document_detail/419274): TemplateCode (and OutId) in
  the query, PhoneNumberJson, SignNameJson and TemplateParamJson in the form body, JSON arrays of
  equal length (else `isv.INVALID_PARAMETERS`), TemplateParamJson's items JSON objects of strings
  (`isv.INVALID_JSON_PARAM`), at most 100 numbers (`isv.MOBILE_COUNT_OVER_LIMIT`), every number
  valid, every signature and the template approved, every item with the template's variables.
  Any refusal is the whole call's (one Code, nothing accepted), as is a behaviour set for any of
  its numbers (an error code, a hang, a closed connection); an accepted call answers ONE BizId,
  and `accepted` gets one entry per number (`extra["batch"]` True, `reference` the call's OutId).

Business answers are HTTP 200 `{"Code": ..., "Message": ..., "RequestId": ..., "BizId": ...}`
(`"Code": "OK"` when accepted); gateway refusals (signature, AccessKey, throttling) are HTTP 4xx
with `{"Code", "Message", "RequestId", "HostId", "Recommend"}`, as Aliyun answers.

    python -m tests.fakes.aliyun_sms --port 9301 --access-key-id ak --access-key-secret secret
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import hmac
import json
import re
from urllib.parse import parse_qsl, quote, urlsplit

from tests.fakes.server import Accepted, FakeHandler, FakeProviderServer, e164, serve_forever

ALGORITHM = "ACS3-HMAC-SHA256"
MAX_CLOCK_SKEW = datetime.timedelta(minutes=15)
# Codes Aliyun's gateway answers with an HTTP error status (the rest are HTTP 200 business answers).
GATEWAY_STATUS = {
    "SignatureDoesNotMatch": 400,
    "IncompleteSignature": 400,
    "SignatureNonceUsed": 400,
    "InvalidTimeStamp.Expired": 400,
    "InvalidAccessKeyId.NotFound": 404,
    "InvalidAccessKeyId.Inactive": 400,
    "Throttling.User": 400,
    "Throttling": 400,
    "Throttling.Api": 400,
    "MissingParameter": 400,
    "ServiceUnavailable": 503,
    "InternalError": 500,
}
MESSAGES = {
    "isv.MOBILE_NUMBER_ILLEGAL": "手机号码格式错误",
    "isv.MOBILE_COUNT_OVER_LIMIT": "手机号码数量超过限制，最多支持100条",
    "isv.INVALID_PARAMETERS": "参数异常",
    "isv.BUSINESS_LIMIT_CONTROL": "触发号码天级流控Permits:40",
    "isv.SMS_TEMPLATE_ILLEGAL": "该账号下找不到对应模板",
    "isv.SMS_SIGNATURE_ILLEGAL": "该账号下找不到对应签名",
    "isv.TEMPLATE_MISSING_PARAMETERS": "模板变量缺少对应参数值",
    "isv.INVALID_JSON_PARAM": "JSON参数不合法，只接受字符串值",
    "isv.AMOUNT_NOT_ENOUGH": "账户余额不足",
    "isv.OUT_OF_SERVICE": "业务停机",
    "isp.SYSTEM_ERROR": "系统错误",
    "Throttling.User": "Request was denied due to user flow control.",
    "isv.DENY_IP_RANGE": "源IP地址所在的地区被禁用",
    "InvalidAccessKeyId.NotFound": "Specified access key is not found.",
    "SignatureDoesNotMatch": "Specified signature is not matched with our calculation.",
    "SignatureNonceUsed": "Specified signature nonce was used already.",
    "InvalidTimeStamp.Expired": "Specified time stamp or date value is expired.",
}
MAINLAND = re.compile(r"1\d{10}")
INTERNATIONAL = re.compile(r"[2-9]\d{6,14}")


def canonical_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    encoded = sorted((quote(k, safe="~"), quote(v, safe="~")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def signature(*, secret: str, method: str, path: str, query: str, headers: dict, signed: list[str], payload_hash: str):
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed)
    canonical_request = "\n".join(
        [method, path or "/", canonical_query(query), canonical_headers, ";".join(signed), payload_hash]
    )
    string_to_sign = f"{ALGORITHM}\n{hashlib.sha256(canonical_request.encode()).hexdigest()}"
    return hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest(), string_to_sign


class AliyunHandler(FakeHandler):
    fake: FakeAliyunSms

    def do_POST(self):
        self.answer("POST")

    def do_GET(self):
        self.answer("GET")

    def refuse(self, code: str, message: str = "") -> None:
        self.fake.record_refusal("", code)
        status = GATEWAY_STATUS.get(code, 400)
        self.send_json(
            status,
            {
                "RequestId": self.fake.request_id(),
                "HostId": "dysmsapi.aliyuncs.com",
                "Code": code,
                "Message": message or MESSAGES.get(code, code),
                "Recommend": f"https://api.aliyun.com/troubleshoot?q={code}",
            },
        )

    def business(self, code: str, phone: str = "", **extra) -> None:
        if code != "OK":
            self.fake.record_refusal(phone, code)
        self.send_json(
            200, {"Code": code, "Message": MESSAGES.get(code, code), "RequestId": self.fake.request_id(), **extra}
        )

    def answer(self, method: str) -> None:
        fake = self.fake
        fake.count_request()
        body = self.read_body()
        url = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        # --- authentication (V3 signature) ---
        auth = headers.get("authorization", "")
        match = re.fullmatch(rf"{ALGORITHM} Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]+)", auth)
        if not match:
            return self.refuse("IncompleteSignature", "The request signature does not conform to Aliyun standards.")
        access_key_id, signed_headers, given = match.groups()
        secret = fake.keys.get(access_key_id)
        if secret is None:
            return self.refuse("InvalidAccessKeyId.NotFound")
        signed = signed_headers.split(";")
        must_sign = {"host"} | {h for h in headers if h.startswith("x-acs-")}
        if "content-type" in headers:
            must_sign.add("content-type")
        if signed != sorted(signed) or not must_sign <= set(signed) or any(h not in headers for h in signed):
            return self.refuse("IncompleteSignature", "SignedHeaders must list host, content-type and x-acs-*.")
        for required in ("x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce"):
            if not headers.get(required):
                return self.refuse("MissingParameter", f"{required} is mandatory for this action.")
        if headers.get("x-acs-content-sha256") != hashlib.sha256(body).hexdigest():
            return self.refuse("SignatureDoesNotMatch", "x-acs-content-sha256 is not the body's SHA-256.")
        expected, string_to_sign = signature(
            secret=secret,
            method=method,
            path=url.path,
            query=url.query,
            headers=headers,
            signed=signed,
            payload_hash=headers["x-acs-content-sha256"],
        )
        if not hmac.compare_digest(expected, given):
            return self.refuse(
                "SignatureDoesNotMatch",
                f"Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}",
            )
        try:
            sent_at = datetime.datetime.strptime(headers["x-acs-date"], "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=datetime.UTC
            )
        except ValueError:
            return self.refuse("InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
        if abs(datetime.datetime.now(datetime.UTC) - sent_at) > MAX_CLOCK_SKEW:
            return self.refuse("InvalidTimeStamp.Expired")
        if not fake.use_nonce(headers["x-acs-signature-nonce"], sent_at):
            return self.refuse("SignatureNonceUsed")
        action = headers["x-acs-action"]
        if action not in ("SendSms", "SendBatchSms") or headers["x-acs-version"] != "2017-05-25":
            return self.refuse("InvalidAction.NotFound", "Specified api is not found, please check your url.")
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        if body and headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            params.update(parse_qsl(body.decode(), keep_blank_values=True))
        if action == "SendBatchSms":
            return self.send_batch(params)
        # --- SendSms ---
        for name in ("PhoneNumbers", "SignName", "TemplateCode"):
            if not params.get(name):
                return self.refuse(f"Missing{name}", f"{name} is mandatory for this action.")
        phone_numbers = params["PhoneNumbers"]
        phone = e164(phone_numbers)
        behaviour = fake.behaviour(phone)
        if behaviour is not None and behaviour.kind == "error":
            if behaviour.code in GATEWAY_STATUS:
                return self.refuse(behaviour.code)
            return self.business(behaviour.code, phone)
        if "," in phone_numbers or not (MAINLAND.fullmatch(phone_numbers) or INTERNATIONAL.fullmatch(phone_numbers)):
            return self.business("isv.MOBILE_NUMBER_ILLEGAL", phone)
        try:
            variables = json.loads(params.get("TemplateParam") or "{}")
        except ValueError:
            return self.business("isv.INVALID_JSON_PARAM", phone)
        if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
            return self.business("isv.INVALID_JSON_PARAM", phone)
        if fake.sign_names is not None and params["SignName"] not in fake.sign_names:
            return self.business("isv.SMS_SIGNATURE_ILLEGAL", phone)
        if fake.templates is not None:
            if params["TemplateCode"] not in fake.templates:
                return self.business("isv.SMS_TEMPLATE_ILLEGAL", phone)
            if set(fake.templates[params["TemplateCode"]]) - set(variables):
                return self.business("isv.TEMPLATE_MISSING_PARAMETERS", phone)
        biz_id = f"{fake.next_id():015d}^0"
        hangs = behaviour is not None and behaviour.kind in ("hang", "close")
        fake.record(
            Accepted(
                message_id=biz_id,
                phone=phone,
                template_code=params["TemplateCode"],
                params=variables,
                sign_name=params["SignName"],
                reference=params.get("OutId", ""),
                answered=not hangs,
                extra={"PhoneNumbers": phone_numbers},
            )
        )
        if self.misbehave(behaviour):
            return None
        return self.business("OK", phone, BizId=biz_id)

    def send_batch(self, params: dict) -> None:
        """SendBatchSms: one template to up to 100 numbers, one Code and one BizId for the call."""
        fake = self.fake
        fake.count_batch()
        for name in ("PhoneNumberJson", "SignNameJson", "TemplateCode"):
            if not params.get(name):
                return self.refuse(f"Missing{name}", f"{name} is mandatory for this action.")
        try:
            numbers = json.loads(params["PhoneNumberJson"])
            signs = json.loads(params["SignNameJson"])
            variables = json.loads(params["TemplateParamJson"]) if params.get("TemplateParamJson") else None
        except ValueError:
            return self.business("isv.INVALID_JSON_PARAM")
        if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers) or not numbers:
            return self.business("isv.INVALID_PARAMETERS")
        if not isinstance(signs, list) or not all(isinstance(n, str) for n in signs) or len(signs) != len(numbers):
            return self.business("isv.INVALID_PARAMETERS")
        if variables is not None and (not isinstance(variables, list) or len(variables) != len(numbers)):
            return self.business("isv.INVALID_PARAMETERS")
        if len(numbers) > 100:
            return self.business("isv.MOBILE_COUNT_OVER_LIMIT")
        phones = [e164(number) for number in numbers]
        behaviours = [b for b in (fake.behaviour(phone) for phone in phones) if b is not None]
        errors = [b for b in behaviours if b.kind == "error"]
        if errors:  # one number's error is the whole call's, as Aliyun answers a batch
            if errors[0].code in GATEWAY_STATUS:
                return self.refuse(errors[0].code)
            return self.business(errors[0].code, phones[0])
        if not all(MAINLAND.fullmatch(n) or INTERNATIONAL.fullmatch(n) for n in numbers):
            return self.business("isv.MOBILE_NUMBER_ILLEGAL", phones[0])
        items = variables if variables is not None else [{} for _n in numbers]
        if not all(isinstance(v, dict) and all(isinstance(x, str) for x in v.values()) for v in items):
            return self.business("isv.INVALID_JSON_PARAM", phones[0])
        if fake.sign_names is not None and any(sign not in fake.sign_names for sign in signs):
            return self.business("isv.SMS_SIGNATURE_ILLEGAL", phones[0])
        template = params["TemplateCode"]
        if fake.templates is not None:
            if template not in fake.templates:
                return self.business("isv.SMS_TEMPLATE_ILLEGAL", phones[0])
            if any(set(fake.templates[template]) - set(item) for item in items):
                return self.business("isv.TEMPLATE_MISSING_PARAMETERS", phones[0])
        biz_id = f"{fake.next_id():015d}^0"
        misbehaviour = next((b for b in behaviours if b.kind in ("hang", "close")), None)
        for phone, number, sign, item in zip(phones, numbers, signs, items, strict=True):
            fake.record(
                Accepted(
                    message_id=biz_id, phone=phone, template_code=template, params=item, sign_name=sign,
                    reference=params.get("OutId", ""), answered=misbehaviour is None,
                    extra={"PhoneNumbers": number, "batch": True},
                )
            )  # fmt: skip
        if self.misbehave(misbehaviour):
            return None
        return self.business("OK", phones[0], BizId=biz_id)


class FakeAliyunSms(FakeProviderServer):
    handler_class = AliyunHandler
    name = "aliyun-sms"

    def __init__(
        self,
        *,
        access_key_id: str = "fake-access-key-id",
        access_key_secret: str = "fake-access-key-secret",  # noqa: S107 (a fake's test key)
        templates: dict[str, list[str]] | None = None,
        sign_names: list[str] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.keys = {access_key_id: access_key_secret}
        self.templates = templates  # None: any template code, any variables
        self.sign_names = sign_names  # None: any signature
        self._nonces: dict[str, datetime.datetime] = {}

    def use_nonce(self, nonce: str, sent_at: datetime.datetime) -> bool:
        """False when `nonce` was seen within the freshness window (a replay)."""
        with self.lock:
            if nonce in self._nonces:
                return False
            self._nonces[nonce] = sent_at
            if len(self._nonces) > 200_000:  # forget nonces whose request is too old to be accepted
                cutoff = datetime.datetime.now(datetime.UTC) - MAX_CLOCK_SKEW
                self._nonces = {n: t for n, t in self._nonces.items() if t >= cutoff}
            return True

    # --- delivery receipts (Aliyun's SmsReport HTTP batch push) ---
    def receipt(self, accepted: Accepted, *, delivered: bool = True, err_code: str = "", report_time=None) -> dict:
        """One report of the push body (a JSON list of these) for a message the fake accepted."""
        now = report_time or datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8)))
        return {
            "phone_number": accepted.phone.removeprefix("+86"),
            "send_time": now.strftime("%Y-%m-%d %H:%M:%S"),
            "report_time": now.strftime("%Y-%m-%d %H:%M:%S"),
            "success": delivered,
            "err_code": "DELIVERED" if delivered else (err_code or "MK:0001"),
            "err_msg": "用户接收成功" if delivered else "用户接收失败",
            "sms_size": "1",
            "biz_id": accepted.message_id,
            "out_id": accepted.reference,
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake Aliyun SMS endpoint (SendSms, ACS3-HMAC-SHA256).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--access-key-id", default="fake-access-key-id")
    parser.add_argument("--access-key-secret", default="fake-access-key-secret")
    args = parser.parse_args(argv)
    fake = FakeAliyunSms(
        host=args.host, port=args.port, access_key_id=args.access_key_id, access_key_secret=args.access_key_secret
    )
    serve_forever(fake, "Fake Aliyun SMS (set ALIYUN_SMS_ENDPOINT to host:port and ALIYUN_SMS_PROTOCOL=http)")


if __name__ == "__main__":
    main()
