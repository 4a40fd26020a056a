"""RQ worker entry point: ``python worker.py`` (the same as ``wharfinger worker``).

The worker itself lives in ``app.jobs.worker`` so the installed ``wharfinger`` command finds
it from any directory; this file only creates the app with the factory and runs it.
"""

from __future__ import annotations

import sys

import click

from app.jobs.worker import run_cron, run_worker

__all__ = ["main", "run_cron", "run_worker"]


def main() -> None:
    """Create the app with the factory and run the worker."""
    from app import ConfigError, create_app

    try:
        app = create_app()
    except ConfigError as exc:
        sys.exit(f"wharfinger: configuration error: {exc}")
    try:
        run_worker(app)
    except click.ClickException as exc:
        sys.exit(f"error: {exc.message}")


if __name__ == "__main__":
    main()
