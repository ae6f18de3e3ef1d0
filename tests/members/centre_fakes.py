"""A small local fake of WeChat's web OAuth for the member centre's tests (a real HTTP server in a
thread, so `members.centre.wechat_oauth` talks HTTP as it does to WeChat).

- `GET /connect/oauth2/authorize?appid=&redirect_uri=&state=&scope=snsapi_base` answers 302 to
  `redirect_uri?code=<code>&state=<state>` (the user "approved"); the code maps to `next_openid`.
- `GET /sns/oauth2/access_token?appid=&secret=&code=&grant_type=authorization_code` answers the
  openid of a code it issued (once), or WeChat's error JSON (`errcode` 40029, invalid code).
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse


class FakeWeChatOAuth:
    def __init__(self, *, app_id: str = "wx-test-app", app_secret: str = "wx-test-secret"):  # noqa: S107 (a fake)
        self.app_id = app_id
        self.app_secret = app_secret
        self.next_openid = "o-test-openid-1"
        self.codes: dict[str, str] = {}
        self.requests: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _json(self, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urlparse(self.path)
                query = {key: values[0] for key, values in parse_qs(url.query).items()}
                fake.requests.append(url.path)
                if url.path == "/connect/oauth2/authorize":
                    if query.get("appid") != fake.app_id or query.get("scope") != "snsapi_base":
                        return self._json({"errcode": 10003, "errmsg": "redirect_uri or appid invalid"})
                    code = secrets.token_hex(8)
                    fake.codes[code] = fake.next_openid
                    target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query.get('state', '')})}"
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.end_headers()
                    return None
                if url.path == "/sns/oauth2/access_token":
                    if query.get("appid") != fake.app_id or query.get("secret") != fake.app_secret:
                        return self._json({"errcode": 40125, "errmsg": "invalid appsecret"})
                    openid = fake.codes.pop(query.get("code", ""), None)
                    if openid is None:
                        return self._json({"errcode": 40029, "errmsg": "invalid code"})
                    return self._json(
                        {"access_token": "at", "expires_in": 7200, "openid": openid, "scope": "snsapi_base"}
                    )
                self.send_response(404)
                self.end_headers()
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def configure(self, settings) -> None:
        settings.WECHAT_APP_ID = self.app_id
        settings.WECHAT_APP_SECRET = self.app_secret
        settings.WECHAT_OAUTH_AUTHORIZE_URL = f"{self.base}/connect/oauth2/authorize"
        settings.WECHAT_SNS_BASE_URL = f"{self.base}/sns/"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
