"""Background loops: run a job every so many seconds, forever, outliving any one failed run."""

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


def first_line(error: BaseException) -> str:
    """An error's first line: SQLAlchemy's go on with the statement and its parameters."""
    return next(iter(str(error).splitlines()), type(error).__name__)


def run_every(seconds: float, run: Callable[[], object], sleep: Callable[[float], None]) -> None:
    """Call run every seconds, forever; a failure is logged and the next run comes as planned.

    Only the first failure in a row carries its traceback: a database that is down for a minute must not bury
    the log under sixty copies of it."""
    name = getattr(run, "__qualname__", run)
    failures = 0
    while True:
        sleep(seconds)
        try:
            run()
        except Exception as error:  # a background job must outlive any one bad run
            failures += 1
            if failures == 1:
                log.exception("background run of %s failed", name)
            else:
                log.error("background run of %s failed again (%d in a row): %s", name, failures, first_line(error))
            continue
        if failures:
            log.info("background run of %s succeeded again after %d failures", name, failures)
            failures = 0
