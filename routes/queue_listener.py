"""Socket.IO's Redis listener, noting when it comes back from losing Redis: what the other processes published in
between never reached this process's pages and operators, so the live relay tells them again from the outbox.

Redis's publish and subscribe keeps nothing: a message published while a listener is cut off (Redis restarted,
a network blip, the listener's connection dropped) is gone for that listener. python-socketio 5.18 logs the
loss, waits up to 60 s between attempts, and carries on.
"""

import logging
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from db_models.base import now_utc

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS, LONGEST_RETRY_SECONDS = 1, 5
# An event is recorded before its commit and published after it: look back further than a transaction takes.
LOOK_BACK = timedelta(seconds=10)
# Waiting longer for Redis stalls whoever publishes (a confirmation's answer) for nothing.
CONNECT_TIMEOUT_SECONDS = 2


class RejoiningListener:
    """A mixin for socketio.RedisManager: its listen loop, tried again 1 s after losing Redis and then up to 5 s
    apart, which keeps since when this process may have missed the others' events (missed)."""

    channel: str
    pubsub: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._missed_since: datetime | None = None
        self._losses = 0
        self._missed_lock = threading.Lock()

    def missed(self) -> tuple[datetime | None, int]:
        """Since when this process may have missed events published elsewhere (None: it missed none), and which
        loss of Redis that was, for caught_up."""
        with self._missed_lock:
            return self._missed_since, self._losses

    def caught_up(self, losses: int) -> None:
        """What was missed up to that loss was told again; a loss since then is still to be caught up on."""
        with self._missed_lock:
            if self._losses == losses:
                self._missed_since = None

    def _redis_listen_with_retries(self) -> Iterator[dict]:
        retry_in, lost_at = FIRST_RETRY_SECONDS, None
        while True:
            try:
                self._redis_connect()  # type: ignore[attr-defined]
                self.pubsub.subscribe(self.channel)
                if lost_at is not None:
                    self._missed(lost_at - LOOK_BACK)
                    log.info("listening to Redis again; catching up on what was published since %s", lost_at)
                    retry_in, lost_at = FIRST_RETRY_SECONDS, None
                yield from self.pubsub.listen()
                problem: object = "the subscription ended"
            except Exception as error:  # whatever the driver raises, the loop must go on: pages depend on it
                problem = error
            lost_at = lost_at or now_utc()
            log.warning("lost Redis, listening again in %s s: %s", retry_in, problem)
            time.sleep(retry_in)
            retry_in = min(retry_in * 2, LONGEST_RETRY_SECONDS)

    def _missed(self, since: datetime) -> None:
        with self._missed_lock:
            self._missed_since = min(since, self._missed_since or since)
            self._losses += 1
