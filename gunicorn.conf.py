"""gunicorn reads this file when started from the project directory (`gunicorn loyalty_crm.wsgi`).

The access log (when enabled with `--access-logfile -`) never carries a phone number or an email
in clear: see `loyalty_crm.logredact`.
"""

logger_class = "loyalty_crm.gunicorn_logging.RedactingLogger"
