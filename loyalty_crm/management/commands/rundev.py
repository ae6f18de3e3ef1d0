"""`manage.py rundev`: the development server, a Celery worker and beat together; Ctrl-C stops all."""

import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from loyalty_crm.devserver import admin_url, default_addr


class Command(BaseCommand):
    help = "Serve the admin with a Celery worker and beat (SQLite and the embedded broker by default)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--addr",
            default=default_addr(),
            help="address:port to serve on (default: $RUNDEV_ADDR, else 127.0.0.1:8000)",
        )
        parser.add_argument("--no-celery", action="store_true", help="serve only, without worker and beat")

    def handle(self, *args, addr, no_celery, **options):
        python = sys.executable
        commands = [[python, "manage.py", "runserver", addr]]
        if not no_celery:
            celery = [python, "-m", "celery", "-A", "loyalty_crm"]
            commands += [
                [*celery, "worker", "--loglevel", "INFO", "--concurrency", "2", "--without-gossip", "--without-mingle"],
                [*celery, "beat", "--loglevel", "INFO", "--schedule", str(settings.VAR_DIR / "celerybeat-schedule")],
            ]
        # Children get their own session, so Ctrl-C reaches them once, forwarded from here.
        processes = [subprocess.Popen(command, start_new_session=True) for command in commands]  # noqa: S603
        self.stdout.write(self.style.SUCCESS(f"Serving {admin_url(addr)} — press Ctrl-C to stop everything."))
        try:
            while all(process.poll() is None for process in processes):
                time.sleep(0.5)
            self.stderr.write("A process stopped; stopping the others.")
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the shutdown short
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGINT)
            deadline = time.monotonic() + 10
            for process in processes:
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
        return None
