"""Settings for bench_posting.py's gunicorn only: the project's own, plus the DRF floor's URL.

Never used in production: the floor view exists only in this URLconf (benchmarks/bench_urls.py),
reached with DJANGO_SETTINGS_MODULE=bench_settings and benchmarks/ on PYTHONPATH.
"""

from loyalty_crm.settings import *  # noqa: F403 — the project's settings, unchanged

ROOT_URLCONF = "bench_urls"
