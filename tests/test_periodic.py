"""Background loops outlive failures, and a failure that repeats leaves one traceback, not one per run."""

import logging
from collections.abc import Callable

import pytest

from jobs.periodic import run_every


class Stop(BaseException):
    """Ends the loop from its sleep, as nothing a job raises can."""


def sleeps(times: int) -> Callable[[float], None]:
    calls = iter(range(times))

    def sleep(_seconds: float) -> None:
        if next(calls, None) is None:
            raise Stop

    return sleep


def test_a_failing_job_logs_its_traceback_once_then_one_line_a_run(caplog: pytest.LogCaptureFixture) -> None:
    outcomes = iter([RuntimeError("database down")] * 3 + [None] * 2 + [RuntimeError("down again")])
    runs = []

    def job() -> None:
        runs.append(1)
        if (outcome := next(outcomes)) is not None:
            raise outcome

    with caplog.at_level(logging.INFO, logger="jobs.periodic"), pytest.raises(Stop):
        run_every(1, job, sleeps(6))
    assert len(runs) == 6
    messages = [(record.levelno, record.exc_info is not None, record.getMessage()) for record in caplog.records]
    assert [traceback for _level, traceback, _message in messages] == [True, False, False, False, True]
    assert "failed again (3 in a row): database down" in messages[2][2]
    assert "succeeded again after 3 failures" in messages[3][2]
