"""Jobs run later on one background thread: webhook attempts, their retries, and refunds settling."""

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

Job = Callable[[], None]


class Scheduler:
    """Runs each job at its due time, in order, on a daemon thread started by the first job (not at import)."""

    def __init__(self) -> None:
        self._jobs: list[tuple[float, int, Job]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def call_later(self, delay_seconds: float, job: Job) -> None:
        """Run job once, delay_seconds from now; jobs due at the same time run in the order they were given."""
        with self._wake:
            heapq.heappush(self._jobs, (time.monotonic() + delay_seconds, next(self._order), job))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="psp-simulator-jobs", daemon=True)
                self._thread.start()
            self._wake.notify()

    def clear(self) -> None:
        """Drop every job not yet started (a reset must not let old deliveries or refunds come back)."""
        with self._wake:
            self._jobs.clear()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._jobs or self._jobs[0][0] > time.monotonic():
                    self._wake.wait(self._jobs[0][0] - time.monotonic() if self._jobs else None)
                _, _, job = heapq.heappop(self._jobs)
            try:
                job()
            except Exception:
                # One broken job must not stop the thread that every later delivery depends on.
                log.exception("a background job failed")
