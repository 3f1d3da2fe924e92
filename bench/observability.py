"""What metrics and logs cost: creations per second with both on (JSON lines to a file, every metric counted)
against both off, in one process through Flask's test client on SQLite, alternating rounds. Target: under 10 %.

Run `.venv/bin/python bench/observability.py [--rounds 6] [--creations 400]`.
"""

import argparse
import contextlib
import logging
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import metrics  # noqa: E402
from app import create_app  # noqa: E402
from log_setup import configure_logging  # noqa: E402

TARGET_OVERHEAD = 0.10


class Unmeasured:
    """A metric that counts nothing: labels() is itself, and inc, dec, set and observe do nothing."""

    def labels(self, *_args: Any) -> "Unmeasured":
        return self

    def inc(self, *_args: Any) -> None: ...

    def dec(self, *_args: Any) -> None: ...

    def observe(self, *_args: Any) -> None: ...


@contextlib.contextmanager
def observed(on: bool, log_file: Path) -> Iterator[None]:
    """Metrics and INFO logs as production has them (on), or neither."""
    saved = {name: value for name, value in vars(metrics).items() if name.isupper() and hasattr(value, "labels")}
    if on:
        configure_logging("json")
        with log_file.open("a") as sink:
            logging.getLogger().handlers[0].setStream(sink)  # type: ignore[attr-defined]
            yield
        return
    logging.disable(logging.CRITICAL)
    for name in saved:
        setattr(metrics, name, Unmeasured())
    try:
        yield
    finally:
        vars(metrics).update(saved)
        logging.disable(logging.NOTSET)


def main(argv: list[str] | None = None) -> int:
    """Alternate rounds with and without; print creations/s of each and the overhead."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6, help="rounds of each kind (default 6)")
    parser.add_argument("--creations", type=int, default=400, help="creations per round (default 400)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-observability-") as workdir:
        config = {"DATABASE_URL": f"sqlite:///{workdir}/b.db", "RATELIMIT_ENABLED": False}
        app = create_app(config | {"SOCKETIO_ASYNC_MODE": "threading", "PIX_WORKER_IN_SERVER": False})
        client, log_file = app.test_client(), Path(workdir) / "log.jsonl"
        rates: dict[bool, list[float]] = {True: [], False: []}
        for round_number in range(2 * args.rounds + 2):
            on = round_number % 2 == 1
            with observed(on, log_file):
                started = time.perf_counter()
                for _ in range(args.creations):
                    client.post("/payments/pix", json={"value": 10})
                rate = args.creations / (time.perf_counter() - started)
            if round_number >= 2:  # the first two warm up
                rates[on].append(rate)
        lines = len(log_file.read_text().splitlines())
    off, on = sorted(rates[False])[len(rates[False]) // 2], sorted(rates[True])[len(rates[True]) // 2]
    overhead = 1 - on / off
    print(f"creations/s, median of {args.rounds} rounds of {args.creations}: without {off:.0f}, with {on:.0f}")
    print(f"metrics and logs cost {overhead:.1%} (target < {TARGET_OVERHEAD:.0%}); {lines} log lines written")
    return 0 if overhead < TARGET_OVERHEAD else 1


if __name__ == "__main__":
    sys.exit(main())
