"""A fake WeChat Official Account API for tests, the checks and browser runs.

It answers as WeChat documents it, with WeChat's error codes:
- `GET /cgi-bin/token?grant_type=client_credential&appid&secret` → `{access_token, expires_in}`
  (40002 bad grant_type, 40013 unknown appid, 40125 wrong secret); counts calls; `expire_tokens()`
  makes every issued token answer 42001;
- `POST /cgi-bin/message/template/send?access_token=` → `{errcode: 0, errmsg: "ok", msgid}` after
  checking the token (41001 missing, 40001 unknown, 42001 expired) and the body's shape (47001 not
  JSON; 40003 no touser; 40037 no template_id; 47003 `data` not `{name: {"value": text}}`);
  `errors[openid] = errcode` makes WeChat refuse that member; `delay` holds every answer back;
- `GET /connect/oauth2/authorize?appid&redirect_uri&response_type=code&scope&state` → 302 to
  `redirect_uri?code=...&state=...` signing in as `oauth_openid`;
- `GET /sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code` → `{openid, ...}`
  (40029 unknown code, 40163 code already used).
Helpers build and POST a signed TEMPLATESENDJOBFINISH event to our `/hooks/wechat/`.

Run alone: `python -m tests.fakes.wechat --port 8765` (app id `wxfake`, secret `fake-secret`).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

APP_ID = "wxfake"
SECRET = "fake-secret"
CALLBACK_TOKEN = "fake-callback-token"


@dataclass
class FakeWeChat:
    app_id: str = APP_ID
    secret: str = SECRET
    oauth_openid: str = "o-fake-openid"
    delay: float = 0.0  # seconds before each template-send answer (timeouts)
    token_delay: float = 0.0  # seconds before each token answer (widens races in tests)
    errors: dict[str, int] = field(default_factory=dict)  # openid → errcode
    token_calls: int = 0
    sent: list[dict] = field(default_factory=list)
    tokens: dict[str, bool] = field(default_factory=dict)  # token → still valid
    codes: dict[str, dict] = field(default_factory=dict)  # OAuth code → {"openid", "used"}
    base_url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    _msgids: Iterator[int] = field(default_factory=lambda: itertools.count(1000000001))

    def expire_tokens(self) -> None:
        with self.lock:
            for token in self.tokens:
                self.tokens[token] = False

    def issue_code(self, openid: str | None = None) -> str:
        code = secrets.token_hex(8)
        with self.lock:
            self.codes[code] = {"openid": openid or self.oauth_openid, "used": False}
        return code

    # --- the endpoints ---

    def token(self, query: dict) -> tuple[int, dict]:
        if self.token_delay:
            time.sleep(self.token_delay)
        with self.lock:
            self.token_calls += 1
            if query.get("grant_type") != "client_credential":
                return 200, {"errcode": 40002, "errmsg": "invalid grant_type"}
            if query.get("appid") != self.app_id:
                return 200, {"errcode": 40013, "errmsg": "invalid appid"}
            if query.get("secret") != self.secret:
                return 200, {"errcode": 40125, "errmsg": "invalid appsecret"}
            token = f"TOKEN-{self.token_calls}-{secrets.token_hex(6)}"
            self.tokens[token] = True
        return 200, {"access_token": token, "expires_in": 7200}

    def send_template(self, query: dict, body: bytes) -> tuple[int, dict]:
        token = query.get("access_token")
        if not token:
            return 200, {"errcode": 41001, "errmsg": "access_token missing"}
        with self.lock:
            valid = self.tokens.get(token)
        if valid is None:
            return 200, {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
        if not valid:
            return 200, {"errcode": 42001, "errmsg": "access_token expired"}
        try:
            message = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return 200, {"errcode": 47001, "errmsg": "data format error"}
        if not isinstance(message, dict):
            return 200, {"errcode": 47001, "errmsg": "data format error"}
        touser = message.get("touser")
        if not isinstance(touser, str) or not touser:
            return 200, {"errcode": 40003, "errmsg": "invalid openid"}
        if not isinstance(message.get("template_id"), str) or not message["template_id"]:
            return 200, {"errcode": 40037, "errmsg": "invalid template_id"}
        data = message.get("data")
        if not isinstance(data, dict) or not all(
            isinstance(item, dict) and isinstance(item.get("value"), str) for item in data.values()
        ):
            return 200, {"errcode": 47003, "errmsg": "argument invalid! data.value invalid"}
        if "url" in message and not isinstance(message["url"], str):
            return 200, {"errcode": 47001, "errmsg": "data format error"}
        if self.delay:
            time.sleep(self.delay)
        if touser in self.errors:
            return 200, {"errcode": self.errors[touser], "errmsg": f"fake error {self.errors[touser]}"}
        with self.lock:
            msgid = next(self._msgids)
            self.sent.append({**message, "msgid": msgid})
        return 200, {"errcode": 0, "errmsg": "ok", "msgid": msgid}

    def authorize(self, query: dict) -> tuple[int, dict | str]:
        if query.get("appid") != self.app_id:
            return 200, {"errcode": 40013, "errmsg": "invalid appid"}
        if query.get("response_type") != "code" or query.get("scope") not in ("snsapi_base", "snsapi_userinfo"):
            return 200, {"errcode": 40117, "errmsg": "invalid scope or response_type"}
        redirect = query.get("redirect_uri") or ""
        if not redirect.startswith(("http://", "https://")):
            return 200, {"errcode": 10003, "errmsg": "redirect_uri invalid"}
        params = urlencode({"code": self.issue_code(), "state": query.get("state", "")})
        return 302, redirect + ("&" if "?" in redirect else "?") + params

    def sns_access_token(self, query: dict) -> tuple[int, dict]:
        if query.get("appid") != self.app_id:
            return 200, {"errcode": 40013, "errmsg": "invalid appid"}
        if query.get("secret") != self.secret:
            return 200, {"errcode": 40125, "errmsg": "invalid appsecret"}
        if query.get("grant_type") != "authorization_code":
            return 200, {"errcode": 40002, "errmsg": "invalid grant_type"}
        with self.lock:
            entry = self.codes.get(query.get("code", ""))
            if entry is None:
                return 200, {"errcode": 40029, "errmsg": "invalid code"}
            if entry["used"]:
                return 200, {"errcode": 40163, "errmsg": "code been used"}
            entry["used"] = True
        return 200, {
            "access_token": "SNS-" + secrets.token_hex(6),
            "expires_in": 7200,
            "refresh_token": "REFRESH-" + secrets.token_hex(6),
            "openid": entry["openid"],
            "scope": "snsapi_base",
        }


def _handler(fake: FakeWeChat):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # quiet
            pass

        def _answer(self, status: int, payload) -> None:
            if status == 302:
                self.send_response(302)
                self.send_header("Location", payload)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; encoding=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client timed out and left
                self.wfile.write(body)

        def _query(self) -> tuple[str, dict]:
            parts = urlsplit(self.path)
            return parts.path, {key: values[0] for key, values in parse_qs(parts.query).items()}

        def do_GET(self):
            path, query = self._query()
            if path == "/cgi-bin/token":
                return self._answer(*fake.token(query))
            if path == "/connect/oauth2/authorize":
                return self._answer(*fake.authorize(query))
            if path == "/sns/oauth2/access_token":
                return self._answer(*fake.sns_access_token(query))
            return self._answer(404, {"errcode": 40066, "errmsg": "invalid url"})

        def do_POST(self):
            path, query = self._query()
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if path == "/cgi-bin/message/template/send":
                return self._answer(*fake.send_template(query, body))
            return self._answer(404, {"errcode": 40066, "errmsg": "invalid url"})

    return Handler


@contextmanager
def running(fake: FakeWeChat | None = None, port: int = 0) -> Iterator[FakeWeChat]:
    """Serve `fake` on 127.0.0.1 (a free port unless given) in a thread."""
    fake = fake or FakeWeChat()
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(fake))
    server.daemon_threads = True
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def point_settings_at(settings, fake: FakeWeChat, *, provider: str = "wechat") -> None:
    settings.WECHAT_PROVIDER = provider
    settings.WECHAT_APP_ID = fake.app_id
    settings.WECHAT_APP_SECRET = fake.secret
    settings.WECHAT_TOKEN = CALLBACK_TOKEN
    settings.WECHAT_ENCODING_AES_KEY = ""
    settings.WECHAT_API_BASE_URL = fake.base_url + "cgi-bin/"
    settings.WECHAT_SNS_BASE_URL = fake.base_url
    settings.WECHAT_OAUTH_BASE_URL = fake.base_url + "connect/"


@contextmanager
def serving(settings) -> Iterator[FakeWeChat]:
    """A running fake WeChat, with the WECHAT_* settings pointing at it (provider `wechat`)."""
    with running() as fake:
        point_settings_at(settings, fake)
        yield fake


@pytest.fixture
def fake_wechat(settings) -> Iterator[FakeWeChat]:
    """The fixture of `serving` (a test module may also declare its own around `serving`)."""
    with serving(settings) as fake:
        yield fake


# --- callbacks to our /hooks/wechat/ ----------------------------------------------------------


def sign(token: str, timestamp: str, nonce: str, *extra: str) -> str:
    joined = "".join(sorted([token, timestamp, nonce, *extra]))
    return hashlib.sha1(joined.encode()).hexdigest()  # noqa: S324 - WeChat's documented signature


def signed_query(token: str = CALLBACK_TOKEN, *, timestamp: int | None = None, nonce: str | None = None) -> dict:
    timestamp_text = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(8)
    return {"signature": sign(token, timestamp_text, nonce), "timestamp": timestamp_text, "nonce": nonce}


def template_event_xml(
    *, msgid, status: str = "success", openid: str = "o-fake-openid", created: int | None = None
) -> str:
    created = int(time.time()) if created is None else created
    return (
        "<xml>"
        "<ToUserName><![CDATA[gh_fake000000]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{created}</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event>"
        f"<MsgID>{msgid}</MsgID>"
        f"<Status><![CDATA[{status}]]></Status>"
        "</xml>"
    )


def post_template_event(hook_url: str, *, msgid, status: str = "success", token: str = CALLBACK_TOKEN, **query):
    """POST a signed TEMPLATESENDJOBFINISH event to a running server's /hooks/wechat/ (requests)."""
    import requests

    params = {**signed_query(token), **query}
    return requests.post(
        hook_url, params=params, data=template_event_xml(msgid=msgid, status=status).encode(), timeout=10
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake WeChat Official Account API.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--app-id", default=APP_ID)
    parser.add_argument("--secret", default=SECRET)
    parser.add_argument("--openid", default="o-fake-openid", help="the openid OAuth sign-ins answer")
    args = parser.parse_args()
    fake = FakeWeChat(app_id=args.app_id, secret=args.secret, oauth_openid=args.openid)
    with running(fake, port=args.port):
        print(f"fake WeChat at {fake.base_url} (app id {fake.app_id}); Ctrl-C stops it", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
