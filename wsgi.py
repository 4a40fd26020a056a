"""WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi ...``."""

import sys

from app import ConfigError, create_app

try:
    app = create_app()
except ConfigError as exc:  # one clear line instead of a traceback
    sys.exit(f"wharfinger: configuration error: {exc}")
