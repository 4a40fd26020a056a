"""A real Wharfinger RQ worker process whose reconciliation pass waits for the test.

``python -m tests.jobs.slow_pass_worker CONFIG_JSON HANDSHAKE_DIR`` creates the app from
the settings in CONFIG_JSON, replaces the pass body with one that writes
``HANDSHAKE_DIR/entered-<pid>`` and then waits (at most 30 s) for
``HANDSHAKE_DIR/release``, and runs ``worker.run_worker(app, burst=True)``: it works off
the queue and exits. Everything else (the RQ worker, the job's app context, the
reconciliation lock) is the production code.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

RELEASE_TIMEOUT = 30.0


def main() -> None:
    """Run one burst worker with the blocking pass."""
    config, handshake = json.loads(sys.argv[1]), Path(sys.argv[2])
    from app import create_app
    from app.jobs.worker import run_worker
    from app.services import catalog

    def blocking_pass(registry, client, plugins, strategy, workers=8):
        (handshake / f"entered-{os.getpid()}").write_text(strategy)
        deadline = time.monotonic() + RELEASE_TIMEOUT
        while not (handshake / "release").exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the test never released the pass")
            time.sleep(0.02)
        return catalog.ReconcileReport(registry.name)

    catalog.reconcile_registry = blocking_pass
    run_worker(create_app(config), burst=True)


if __name__ == "__main__":
    main()
