"""WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi ...``.

Under any WSGI server the background jobs (event sweep, reconciliation; without Redis) start
with the first request of each process, so CLI commands importing this module start none.
"""

import sys
import threading

from app import ConfigError, create_app
from app.jobs.schedule import start_background

try:
    app = create_app()
except ConfigError as exc:  # one clear line instead of a traceback
    sys.exit(f"wharfinger: configuration error: {exc}")

_started = threading.Event()


@app.before_request
def _start_background_jobs():
    """Start this process's background jobs once, on its first request."""
    if not _started.is_set():
        _started.set()
        start_background(app)
