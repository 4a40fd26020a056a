"""RQ worker entry point: ``python worker.py`` or ``wharfinger worker``.

The app is created by the factory when the worker starts, never at import, and every job
runs inside its app context.
"""

from __future__ import annotations

import sys

import click


def run_worker(app) -> None:
    """Run an RQ worker for the app's queues (requires WHARFINGER_REDIS_URL)."""
    url = app.config.get("REDIS_URL")
    if not url:
        raise click.ClickException(
            "WHARFINGER_REDIS_URL is not set: without Redis, jobs run inside the web "
            "process and no separate worker is needed"
        )
    from redis import Redis
    from rq import Worker

    connection = Redis.from_url(url)
    with app.app_context():
        Worker(["default"], connection=connection).work(with_scheduler=True)


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
