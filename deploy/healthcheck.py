"""Container health check: GET /-/live on this container; exit 0 on a 200, 1 otherwise.

Used by the Dockerfile's HEALTHCHECK. ``HEALTHCHECK_URL`` overrides the address (default
``https://127.0.0.1:8443/-/live``; use ``http://...`` with ``wharfinger serve --http``).
The certificate is not verified: this only asks whether the process on loopback answers,
and the served certificate need not name 127.0.0.1 (a CA-issued one would not).
Proxy variables are ignored so that a configured HTTPS_PROXY cannot capture loopback.
"""

from __future__ import annotations

import os
import ssl
import sys
import urllib.request

DEFAULT_URL = "https://127.0.0.1:8443/-/live"


def main() -> int:
    """Probe the liveness endpoint once."""
    url = os.environ.get("HEALTHCHECK_URL") or DEFAULT_URL
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
    )
    try:
        with opener.open(url, timeout=4) as response:
            status = response.status
    except Exception as exc:  # any failure means "not healthy"
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"unhealthy: {url}: HTTP {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
