"""A gunicorn gthread worker that only accepts connections while it has a free thread.

docker, skopeo and load balancers keep connections alive, and a kept-alive connection stays
on the worker that accepted it. The stock gthread worker accepts up to
``worker_connections`` at once, so a burst of new connections often lands on one worker
(16/0/0/0 was common in bench/token.py): one GIL then serves everyone and the tail latency
triples. Refusing to accept while every thread is busy leaves the next connections to
idle workers (measured: spreads of 9/7 or 10/6, p99 under 50 ms; docs/performance.md).

This reads gthread's connection counters, which is why setup.cfg pins gunicorn's major
version; tests/foundation/test_server.py fails if those counters change.
"""

from __future__ import annotations

from gunicorn.workers.gthread import ThreadWorker


class BalancedThreadWorker(ThreadWorker):
    """gthread, but ``worker_connections`` drops to "no more" while all threads are busy."""

    @property
    def worker_connections(self) -> int:
        """The configured limit, or the current count when every thread is serving."""
        busy = self.nr_conns - len(self.keepalived_conns) - len(self.pending_conns)
        return self.nr_conns if busy >= self.cfg.threads else self._configured_limit

    @worker_connections.setter
    def worker_connections(self, value: int) -> None:
        self._configured_limit = value
