"""gunicorn reads this file when started from the project directory (`gunicorn loyalty_crm.wsgi`).

The access log (when enabled with `--access-logfile -`) never carries a phone number or an email
in clear: see `loyalty_crm.logredact`.

Workers by measurement (issue 20, benchmarks/bench_posting.py): on a 2-core server, 3 processes
of 3 threads each with keep-alive took the most postings a second — a posting waits on PostgreSQL
for about half its time, which the threads fill, while more processes only add memory and context
switches. Each thread holds one persistent database connection (`DJANGO_CONN_MAX_AGE`), so a server
opens workers × threads connections: size PostgreSQL's `max_connections` (or PgBouncer's pool) for
every server. `WEB_CONCURRENCY` and `GUNICORN_THREADS` override the counts (about cores + 1
processes of 3 threads is the rule this measurement gives).
"""

import os

logger_class = "loyalty_crm.gunicorn_logging.RedactingLogger"

workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "3"))
keepalive = 5  # seconds: a till or a load balancer reuses its connection between requests
# Imported once in the master, then forked: faster start, memory shared copy-on-write. Django opens
# no database connection at import, so no connection is shared between processes.
preload_app = True
# A worker is replaced after this many requests (jittered so they never restart together): a slow
# leak in a library cannot grow without bound.
max_requests = 5000
max_requests_jitter = 500
timeout = 30
graceful_timeout = 30
