"""Log lines that an attacker can provoke at will, at a bounded rate, so they cannot flood the disk."""

import logging
import threading
import time


class ThrottledLog:
    """At most `lines` lines per `seconds`; what is dropped is counted and reported with the next line."""

    def __init__(self, logger: logging.Logger, lines: int = 10, seconds: float = 60.0) -> None:
        self.logger = logger
        self.lines = lines
        self.seconds = seconds
        self._window_start = float("-inf")
        self._written = 0
        self._dropped = 0
        self._lock = threading.Lock()

    def warning(self, message: str, *args: object) -> bool:
        """Log one warning line unless the budget is spent; True when it was written."""
        with self._lock:
            now = time.monotonic()
            if now - self._window_start >= self.seconds:
                self._window_start, self._written = now, 0
            if self._written >= self.lines:
                self._dropped += 1
                return False
            self._written += 1
            dropped, self._dropped = self._dropped, 0
        if dropped:
            message += " (%d similar lines dropped)"
            args = (*args, dropped)
        self.logger.warning(message, *args)
        return True
