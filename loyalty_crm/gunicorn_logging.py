"""gunicorn's access log without contact data: every atom (request line, query string, referer,
headers) passes through `loyalty_crm.logredact.redact`. Selected by `gunicorn.conf.py`."""

from __future__ import annotations

from gunicorn.glogging import Logger

from loyalty_crm.logredact import redact


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: redact(value) if isinstance(value, str) else value for key, value in atoms.items()}
