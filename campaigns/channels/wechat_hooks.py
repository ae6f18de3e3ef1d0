"""`/hooks/wechat/`: the Official Account's server URL (服务器配置), called by WeChat only.

- GET is the URL-verification handshake: `signature` = sha1 of the sorted [WECHAT_TOKEN,
  timestamp, nonce]; the `echostr` is echoed when it matches, else 403.
- POST carries an event as XML, signed the same way (403 when the signature is missing or wrong),
  with a timestamp within `WECHAT_CALLBACK_MAX_AGE_SECONDS` and a nonce not seen in the last ten
  minutes (else 403: a replay). `TEMPLATESENDJOBFINISH` reports whether a template message
  reached the member: `success` → delivered; `failed:user block`, `failed: system failed`, … →
  not delivered, with that status as the error code (`campaigns.services.receipts`). Every other
  event (subscribe, unsubscribe, menu clicks, messages) is answered "success" and ignored.
- Safe mode (`WECHAT_ENCODING_AES_KEY` set): the body is AES-encrypted and carries its own
  `msg_signature` over the ciphertext; it is checked and decrypted with wechatpy's `WeChatCrypto`.
  Plain-mode signatures do not cover the body — the nonce record stops a captured signature from
  being used twice, and the safe mode is the recommended setting in production.

XML is parsed with entities refused (xmltodict on expat, `disable_entities=True`) and a size limit;
a body that is not the XML WeChat sends gets 400.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import logging
import time

import xmltodict
from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException

from campaigns.services.receipts import record_receipt

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
NONCE_SECONDS = 600
NONCE_KEY = "wechat:callback-nonce:{}"


def signature_of(token: str, timestamp: str, nonce: str, *extra: str) -> str:
    """WeChat's callback signature: sha1 of the parts sorted and joined."""
    joined = "".join(sorted([token, timestamp, nonce, *extra]))
    return hashlib.sha1(joined.encode()).hexdigest()  # noqa: S324 - WeChat's documented signature


def _signed(request) -> bool:
    token = settings.WECHAT_TOKEN
    given = request.GET.get("signature", "")
    timestamp = request.GET.get("timestamp", "")
    nonce = request.GET.get("nonce", "")
    if not (token and given and timestamp and nonce):
        return False
    return hmac.compare_digest(signature_of(token, timestamp, nonce), given.lower())


def _fresh(timestamp: str) -> bool:
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    return abs(time.time() - sent) <= settings.WECHAT_CALLBACK_MAX_AGE_SECONDS


def parse_xml(body: bytes) -> dict:
    """The `<xml>` element of a callback as a dict; ValueError when it is not such XML."""
    try:
        document = xmltodict.parse(body, disable_entities=True)
    except Exception as exc:  # expat errors, entities refused, bad encodings
        raise ValueError("malformed XML") from exc
    root = document.get("xml") if isinstance(document, dict) else None
    if not isinstance(root, dict):
        raise ValueError("no <xml> element")
    return root


def _text(event: dict, name: str) -> str:
    value = event.get(name)
    return value.strip() if isinstance(value, str) else ""


def _decrypt(request, envelope: dict) -> dict:
    """The decrypted event of a safe-mode callback (raises InvalidSignatureException / ValueError)."""
    crypto = WeChatCrypto(settings.WECHAT_TOKEN, settings.WECHAT_ENCODING_AES_KEY, settings.WECHAT_APP_ID)
    if not isinstance(envelope.get("Encrypt"), str):
        raise ValueError("no <Encrypt> element")
    try:
        plain = crypto.decrypt_message(
            envelope,
            request.GET.get("msg_signature", ""),
            request.GET.get("timestamp", ""),
            request.GET.get("nonce", ""),
        )
    except (InvalidSignatureException, InvalidAppIdException):
        raise
    except Exception as exc:  # bad base64, bad padding: not something WeChat sent
        raise ValueError("cannot decrypt") from exc
    return parse_xml(plain.encode() if isinstance(plain, str) else plain)


def handle_event(event: dict) -> None:
    """Act on one event (already authenticated)."""
    kind = _text(event, "Event").upper()
    if _text(event, "MsgType").lower() != "event":
        return
    if kind == "TEMPLATESENDJOBFINISH":
        msgid = _text(event, "MsgID") or _text(event, "MsgId")
        status = _text(event, "Status")
        if not msgid or not status:
            raise ValueError("TEMPLATESENDJOBFINISH without MsgID or Status")
        at = None
        created = _text(event, "CreateTime")
        if created.isdigit():
            at = datetime.datetime.fromtimestamp(int(created), tz=datetime.UTC)
        delivered = status.lower() == "success"
        record_receipt(
            channel="wechat",
            provider_ref=msgid,
            delivered=delivered,
            error_code="" if delivered else status,
            at=at or timezone.now(),
        )
    elif kind == "UNSUBSCRIBE":
        logger.info("wechat: a follower unsubscribed from the Official Account")


def _release_nonce(key: str) -> None:
    """Forget a nonce whose event was not handled, so WeChat's retry is not taken for a replay
    (the cache, not the database: tests/test_layering.py allows this one)."""
    cache.delete(key)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def wechat_callback(request):
    if not _signed(request):
        return HttpResponseForbidden("invalid signature", content_type="text/plain")
    if request.method == "GET":
        return HttpResponse(request.GET.get("echostr", ""), content_type="text/plain; charset=utf-8")

    timestamp = request.GET.get("timestamp", "")
    if not _fresh(timestamp):
        return HttpResponseForbidden("stale timestamp", content_type="text/plain")
    if len(request.body) > MAX_BODY_BYTES:
        return HttpResponse("body too large", status=413, content_type="text/plain")
    try:
        event = parse_xml(request.body)
        if settings.WECHAT_ENCODING_AES_KEY:
            if request.GET.get("encrypt_type", "").lower() != "aes":
                return HttpResponseForbidden("encrypted callbacks expected", content_type="text/plain")
            event = _decrypt(request, event)
    except (InvalidSignatureException, InvalidAppIdException):
        return HttpResponseForbidden("invalid signature", content_type="text/plain")
    except ValueError:
        return HttpResponseBadRequest("malformed XML", content_type="text/plain")

    # One use per nonce: claimed now, released if handling fails so WeChat's retry gets through.
    nonce_key = NONCE_KEY.format(hashlib.sha256(request.GET["nonce"].encode()).hexdigest())
    if not cache.add(nonce_key, 1, NONCE_SECONDS):
        return HttpResponseForbidden("replayed request", content_type="text/plain")
    try:
        handle_event(event)
    except ValueError:
        _release_nonce(nonce_key)
        return HttpResponseBadRequest("malformed event", content_type="text/plain")
    except Exception:
        _release_nonce(nonce_key)
        raise
    return HttpResponse("success", content_type="text/plain")
