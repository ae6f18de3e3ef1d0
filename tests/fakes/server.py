"""The part every fake provider server shares: a threading HTTP/1.1 server (keep-alive) in a
background thread, the record of accepted messages, and per-number behaviours.

    fake = FakeAliyunSms(access_key_id="ak", access_key_secret="secret").start()
    fake.fail("+8613800000001", "isv.MOBILE_NUMBER_ILLEGAL")   # answer that code for this number
    fake.hang("+8613800000002")    # take the request, never answer (a client timeout: in doubt)
    fake.close("+8613800000003")   # take the request, close the connection without an answer
    fake.accepted                  # [Accepted(message_id=..., phone=..., ...)] in arrival order
    fake.stop()

Numbers are given in E.164 (+86...); each fake compares them in its provider's own form.
Standard library only, so `python -m tests.fakes.aliyun_sms --port N` runs without Django.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Accepted:
    """One message the fake accepted (or took before hanging or closing)."""

    message_id: str  # Aliyun BizId / Tencent SerialNo
    phone: str  # E.164
    template_code: str
    params: dict | list
    sign_name: str
    reference: str  # Aliyun OutId / Tencent SessionContext
    answered: bool = True  # False: hung or closed (the client never learned the id)
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Behaviour:
    kind: str  # "error", "hang", "close"
    code: str = ""
    level: str = ""  # provider-specific: where the error is answered


def e164(phone: str) -> str:
    """+86 for an 11-digit mainland number without a code; a plus sign for other bare digits."""
    phone = phone.strip()
    if phone.startswith("+"):
        return phone
    if phone.startswith("00"):
        return "+" + phone[2:]
    if len(phone) == 11 and phone.startswith("1"):
        return "+86" + phone
    return "+" + phone


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


class FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    wbufsize = -1  # one send per answer (flushed by BaseHTTPRequestHandler after each request)
    disable_nagle_algorithm = True
    server_version = "FakeProvider"
    sys_version = ""

    @property
    def fake(self) -> FakeProviderServer:
        return self.server.fake  # type: ignore[attr-defined]

    def setup(self):
        super().setup()
        with self.fake.lock:
            self.fake.connections.add(self.connection)

    def finish(self):
        with self.fake.lock:
            self.fake.connections.discard(self.connection)
        super().finish()

    def log_message(self, format, *args):
        return

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_json(self, status: int, payload, *, content_type: str = "application/json") -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def misbehave(self, behaviour: Behaviour | None) -> bool:
        """Hang or close as told; True when the request must get no answer."""
        if behaviour is None or behaviour.kind not in ("hang", "close"):
            return False
        if behaviour.kind == "hang":
            self.fake.release.wait(self.fake.hang_seconds)
        self.close_connection = True
        return True


class FakeProviderServer:
    handler_class: type[FakeHandler] = FakeHandler
    name = "fake"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, hang_seconds: float = 30.0):
        self.host = host
        self.requested_port = port
        self.hang_seconds = hang_seconds
        self.accepted: list[Accepted] = []
        self.refused: list[tuple[str, str]] = []  # (phone or "", code) of every refusal
        self.requests = 0
        self.batch_requests = 0  # of them, batch calls
        self.behaviours: dict[str, Behaviour] = {}
        self.lock = threading.Lock()
        self.connections: set[socket.socket] = set()  # open (keep-alive) connections, closed by stop()
        self.release = threading.Event()
        self._ids = itertools.count(1)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---
    def start(self):
        self._server = _Server((self.host, self.requested_port), self.handler_class)
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"{self.name}-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self.lock:
            connections, self.connections = list(self.connections), set()
        for connection in connections:  # a stopped fake answers nobody, kept-alive clients included
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the fake first"
        return self._server.server_address[1]

    @property
    def endpoint(self) -> str:
        """host:port, what the provider's ENDPOINT setting takes (with protocol http)."""
        return f"{self.host}:{self.port}"

    # --- behaviours ---
    def fail(self, phone: str, code: str, *, level: str = "") -> None:
        self.behaviours[e164(phone)] = Behaviour("error", code, level)

    def hang(self, phone: str) -> None:
        self.behaviours[e164(phone)] = Behaviour("hang")

    def close(self, phone: str) -> None:
        self.behaviours[e164(phone)] = Behaviour("close")

    def reset(self) -> None:
        with self.lock:
            self.behaviours.clear()
            self.accepted.clear()
            self.refused.clear()
            self.requests = 0
            self.batch_requests = 0

    def behaviour(self, phone: str) -> Behaviour | None:
        return self.behaviours.get(e164(phone)) if self.behaviours else None

    # --- records ---
    def next_id(self) -> int:
        with self.lock:
            return next(self._ids)

    def record(self, accepted: Accepted) -> None:
        with self.lock:
            self.accepted.append(accepted)

    def record_refusal(self, phone: str, code: str) -> None:
        with self.lock:
            self.refused.append((phone, code))

    def count_request(self) -> None:
        with self.lock:
            self.requests += 1

    def count_batch(self) -> None:
        """One of the requests was a batch call (Aliyun SendBatchSms, Tencent with several numbers)."""
        with self.lock:
            self.batch_requests += 1

    def find(self, *, reference: str) -> Accepted:
        with self.lock:
            matches = [a for a in self.accepted if a.reference == reference]
        assert len(matches) == 1, f"{len(matches)} messages with reference {reference!r}"
        return matches[0]

    @staticmethod
    def request_id() -> str:
        return str(uuid.uuid4()).upper()


def serve_forever(fake: FakeProviderServer, description: str) -> None:
    """The standalone entry points: start, print where, serve until interrupted."""
    fake.start()
    print(f"{description} on http://{fake.endpoint}/ (Ctrl+C stops it)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
