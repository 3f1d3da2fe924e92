"""Background loops: run a job every so many seconds, forever, outliving any one failed run."""

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


def run_every(seconds: float, run: Callable[[], object], sleep: Callable[[float], None]) -> None:
    """Call run every seconds, forever; a failure is logged and the next run comes as planned."""
    while True:
        sleep(seconds)
        try:
            run()
        except Exception:  # a background job must outlive any one bad run
            log.exception("background run of %s failed", getattr(run, "__qualname__", run))
