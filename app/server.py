"""Run the app under gunicorn (the Python analogue of Portus's Puma), with TLS by default."""

from __future__ import annotations

import os
from pathlib import Path

from gunicorn.app.base import BaseApplication


class WharfingerServer(BaseApplication):
    """A gunicorn application that builds the Flask app with our factory in each worker."""

    def __init__(self, options: dict, app_config: dict | None = None):
        self.options = options
        self.app_config = app_config
        super().__init__()

    def load_config(self):
        """Copy our options into gunicorn's settings."""
        for key, value in self.options.items():
            if value is not None:
                self.cfg.set(key, value)

    def load(self):
        """Create the WSGI app in each worker (preload is off) and start its background
        jobs there: threads do not survive a fork."""
        from app import create_app
        from app.jobs.schedule import start_background

        app = create_app(self.app_config)
        start_background(app)
        return app


DEFAULT_THREADS = 2


def default_workers() -> int:
    """Two workers per CPU (at most 8) with two threads each: the token endpoint is
    CPU-bound, more threads per worker only queue behind one GIL, and more workers spread
    kept-alive connections better (docs/performance.md)."""
    return min(8, 2 * (os.cpu_count() or 1))


def gunicorn_options(config, *, bind, workers=None, threads=DEFAULT_THREADS, tls=True) -> dict:
    """gunicorn settings: balanced gthread workers (keep-alive), TLS, access log."""
    options = {
        "bind": bind,
        "workers": workers or default_workers(),
        "threads": threads,
        "worker_class": "app.workers.BalancedThreadWorker",
        "keepalive": 75,
        "accesslog": "-",
        "graceful_timeout": 30,
        # gunicorn 27's control socket defaults to one path per OS user, shared by every
        # gunicorn of that user; keep it in this instance's folder instead.
        "control_socket": str(Path(config["INSTANCE_PATH"]) / "gunicorn.ctl"),
        # X-Forwarded-* are trusted only through WHARFINGER_PROXY_COUNT (ProxyFix), so
        # gunicorn must not take the scheme from them for loopback peers on its own.
        "forwarded_allow_ips": "",
        "child_exit": _child_exit,
    }
    if tls:
        options.update(certfile=config["TLS_CERT"], keyfile=config["TLS_KEY"])
    return options


def _child_exit(server, worker) -> None:
    """gunicorn hook in the master: a worker exited; its live metrics go with it."""
    from app.metrics import mark_worker_dead

    mark_worker_dead(worker.pid)


def run_gunicorn(config, **kwargs) -> None:
    """Serve until stopped (SIGHUP reloads workers gracefully); every worker records its
    metrics in one multiprocess folder so a scrape sums them."""
    from app.metrics import prepare_multiprocess_dir

    prepare_multiprocess_dir(config["INSTANCE_PATH"])
    WharfingerServer(gunicorn_options(config, **kwargs)).run()
