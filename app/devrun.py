"""``make run``: first-run setup, then the production server on https://localhost:8443.

Embedded defaults only: SQLite and generated keys in ./instance, jobs in-process.
"""

from __future__ import annotations

import sys

from app import ConfigError, create_app

BIND = "127.0.0.1:8443"


def main() -> int:
    """Initialise the instance and serve until interrupted."""
    from app.cli import cli

    try:
        create_app()
    except ConfigError as exc:
        print(f"wharfinger: configuration error: {exc}", file=sys.stderr)
        return 2
    cli.main(["init"], prog_name="wharfinger", standalone_mode=False)
    print(f"Wharfinger: https://localhost:{BIND.rsplit(':', 1)[1]}/ (self-signed certificate)")
    cli.main(["serve", "--bind", BIND, "--workers", "2"], prog_name="wharfinger")
    return 0


if __name__ == "__main__":
    sys.exit(main())
