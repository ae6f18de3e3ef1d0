"""Delivery receipts from the SMS providers (issue 14): `POST /hooks/sms/aliyun/` and
`POST /hooks/sms/tencent/`.

Aliyun's SmsReport "HTTP batch push" and Tencent's "SMS sending status notification" post a JSON
list of reports; neither signs it. So the callback URL set in the provider's console carries a
shared secret, `?token=<SMS_RECEIPT_TOKEN>` (compared in constant time; a missing or wrong token, or
no token configured, is 403), and `SMS_RECEIPT_ALLOWED_IPS` may restrict the callers to the
provider's published addresses. Each report goes through `campaigns.services.receipts.
record_receipt` (idempotent: a repeated report changes nothing); reports older than
`SMS_RECEIPT_MAX_AGE_HOURS` (by the provider's report time, Beijing time) are ignored, so an old
capture replayed cannot move anything. A body that is not a JSON list of reports is 400 with the
problem named; the providers retry until they get their documented success answer.

No phone number is logged; reports are matched on the provider's message id alone. Aliyun's BizId
names a whole `SendBatchSms` call, so an Aliyun report is matched on its BizId and a keyed hash of
its `phone_number` (`campaigns.channels.aliyun.receipt_refs`), the id the dispatcher stored.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import logging

from django.conf import settings
from django.http import JsonResponse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from campaigns.channels.aliyun import receipt_refs
from campaigns.models import Channel
from campaigns.services.receipts import record_receipt
from loyalty_crm.netaddr import client_ip

logger = logging.getLogger(__name__)

MAX_REPORTS = 10_000  # Aliyun pushes up to 100 per request, Tencent a few: far above both
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class BadReport(ValueError):
    pass


def _problem(status: int, message: str) -> JsonResponse:
    return JsonResponse({"detail": message}, status=status)


def _caller_allowed(request) -> bool:
    allowed = getattr(settings, "SMS_RECEIPT_ALLOWED_IPS", None) or []
    if not allowed:
        return True
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    for entry in allowed:
        network = ipaddress.ip_network(entry.strip(), strict=False)
        if address.version == network.version and address in network:
            return True
    return False


def _token_ok(request) -> bool:
    expected = settings.SMS_RECEIPT_TOKEN
    given = request.GET.get("token", "")
    return bool(expected) and constant_time_compare(given, expected)


def _reports(request) -> list[dict]:
    """The request's JSON list of report objects; BadReport names what is wrong."""
    length = request.META.get("CONTENT_LENGTH") or "0"
    limit = settings.SMS_RECEIPT_MAX_BYTES
    if not length.isdigit() or int(length) > limit:
        raise BadReport(_("The body is larger than %(limit)s bytes.") % {"limit": limit})
    body = request.body
    if len(body) > limit:
        raise BadReport(_("The body is larger than %(limit)s bytes.") % {"limit": limit})
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadReport(_("The body is not JSON.")) from None
    if not isinstance(data, list):
        raise BadReport(_("The body must be a JSON list of reports."))
    if len(data) > MAX_REPORTS:
        raise BadReport(_("More than %(limit)s reports in one request.") % {"limit": MAX_REPORTS})
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise BadReport(_("Report %(index)s is not a JSON object.") % {"index": index})
    return data


def _field(report: dict, index: int, name: str) -> str:
    value = report.get(name)
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise BadReport(_("Report %(index)s has no %(field)s.") % {"index": index, "field": name})
    return value.strip()


def _time(report: dict, index: int, name: str) -> datetime.datetime:
    """A provider's report time: "YYYY-MM-DD HH:MM:SS" in Beijing time (TIME_ZONE)."""
    value = _field(report, index, name)
    try:
        naive = datetime.datetime.strptime(value, TIME_FORMAT)
    except ValueError:
        raise BadReport(
            _("Report %(index)s: %(field)s is not a time like 2026-01-31 08:00:00.") % {"index": index, "field": name}
        ) from None
    return timezone.make_aware(naive, datetime.timezone(datetime.timedelta(hours=8)))


def _aliyun(report: dict, index: int) -> tuple[list[str], bool, str, datetime.datetime]:
    success = report.get("success")
    if not isinstance(success, bool):
        raise BadReport(_("Report %(index)s has no %(field)s.") % {"index": index, "field": "success"})
    error_code = "" if success else str(report.get("err_code") or "")
    phone_number = report.get("phone_number")
    if phone_number is not None and not isinstance(phone_number, (str, int)):
        raise BadReport(_("Report %(index)s has no %(field)s.") % {"index": index, "field": "phone_number"})
    refs = receipt_refs(_field(report, index, "biz_id"), str(phone_number or "").strip())
    return refs, success, error_code, _time(report, index, "report_time")


def _tencent(report: dict, index: int) -> tuple[list[str], bool, str, datetime.datetime]:
    status = _field(report, index, "report_status")
    if status not in ("SUCCESS", "FAIL"):
        raise BadReport(_("Report %(index)s: report_status is not SUCCESS or FAIL.") % {"index": index})
    delivered = status == "SUCCESS"
    error_code = "" if delivered else str(report.get("errmsg") or "")
    return [_field(report, index, "sid")], delivered, error_code, _time(report, index, "user_receive_time")


PARSERS = {"aliyun": _aliyun, "tencent": _tencent}
ANSWERS = {"aliyun": {"code": 0, "msg": "成功"}, "tencent": {"result": 0, "errmsg": "OK"}}


def receive(request, *, provider: str) -> JsonResponse:
    if not _caller_allowed(request) or not _token_ok(request):
        return _problem(403, _("This receipt hook needs the configured token from an allowed address."))
    try:
        reports = _reports(request)
        parsed = [PARSERS[provider](report, index) for index, report in enumerate(reports)]
    except BadReport as exc:
        return _problem(400, str(exc))
    oldest = timezone.now() - datetime.timedelta(hours=settings.SMS_RECEIPT_MAX_AGE_HOURS)
    changed = stale = 0
    for refs, delivered, error_code, at in parsed:
        if at < oldest:
            stale += 1
            continue
        changed += record_receipt(
            channel=Channel.SMS, provider_ref=refs[0], also=refs[1:], delivered=delivered, error_code=error_code, at=at
        )
    logger.info("%s SMS receipts: %s reports, %s recorded, %s too old", provider, len(parsed), changed, stale)
    return JsonResponse(ANSWERS[provider], json_dumps_params={"ensure_ascii": False})


@csrf_exempt
@require_POST
def aliyun_receipts(request):
    return receive(request, provider="aliyun")


@csrf_exempt
@require_POST
def tencent_receipts(request):
    return receive(request, provider="tencent")
