"""The Celery application. Workers: `celery -A loyalty_crm worker`; beat: `celery -A loyalty_crm beat`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_crm.settings")

app = Celery("loyalty_crm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
