"""What a network failure means for a send: never went out, or maybe went out.

Both SDKs talk HTTP through `requests` and wrap its exceptions (Aliyun's darabonba in a
`RetryError` inside an `UnretryableException`, Tencent's in a `TencentCloudSDKException`
"ClientNetworkError"), keeping the original as the exception's context. A connection that was
never made (refused, no route, DNS, a connect timeout, a TLS handshake failure) carried no request:
the send can be retried (temporary `ChannelError`). Anything after the request went out (a read
timeout, the connection closed before the answer, a broken answer) may have sent the message:
`ChannelInDoubt`, never re-sent.
"""

from __future__ import annotations

import requests
from django.utils.translation import gettext as _
from urllib3.exceptions import NameResolutionError, NewConnectionError

from campaigns.channels.base import ChannelError, ChannelInDoubt


def _chain(exc: BaseException):
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend([current.__cause__, current.__context__, getattr(current, "inner_exception", None)])
        todo.extend(arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException))
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            todo.append(reason)


def network_failure(exc: BaseException, *, provider: str) -> ChannelError | None:
    """The ChannelError a network failure in `exc`'s chain stands for; None when it holds none."""
    chain = list(_chain(exc))
    requests_errors = [e for e in chain if isinstance(e, requests.RequestException)]
    if not requests_errors:
        return None
    not_connected = (requests.ConnectTimeout, requests.exceptions.SSLError, NewConnectionError, NameResolutionError)
    if any(isinstance(e, not_connected) for e in chain):
        return ChannelError(
            "network.unreachable",
            _("Could not connect to %(provider)s; nothing was sent.") % {"provider": provider},
            temporary=True,
        )
    if any(isinstance(e, requests.ReadTimeout) for e in chain):
        return ChannelInDoubt(
            "timeout",
            _("%(provider)s did not answer in time; the message may have been sent.") % {"provider": provider},
        )
    return ChannelInDoubt(
        "network.dropped",
        _("The connection to %(provider)s broke before its answer; the message may have been sent.")
        % {"provider": provider},
    )
