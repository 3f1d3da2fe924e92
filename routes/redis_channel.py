"""Socket.IO's Redis channel, made to lose no event: when this process could not publish, or its listener was cut
off, the live relay tells again, from the outbox, the events recorded meanwhile (missed, caught_up).

Redis's publish and subscribe keeps nothing. python-socketio 5.18, given a Redis that is gone, logs and drops what
it could not publish; given one that hangs, it waits as long as its socket does (for ever, and a creation's answer
with it); and its listener, once cut off, waits up to 60 s between attempts to listen again.
"""

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis

from config import REDIS_RETRY
from db_models.base import now_utc

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS, LONGEST_RETRY_SECONDS = 1, 5
# An event is recorded before its commit and published after it: look back further than a transaction takes.
LOOK_BACK = timedelta(seconds=10)
# The listener's wait for a connection: without one, a Redis host that is down holds it for minutes.
CONNECT_TIMEOUT_SECONDS = 2
# Whoever publishes waits for it (a confirmation's answer): a short attempt, and after a failed one none for a
# while, since what is not sent is told again anyway.
PUBLISH_TIMEOUT_SECONDS = 1
QUIET_SECONDS = 5


@dataclass(frozen=True)
class Missed:
    """What the live relay is to tell again: the events recorded since since, to every process's pages when this
    one failed to publish (everyone), else to its own; losses tells caught_up which loss that was."""

    since: datetime
    everyone: bool
    losses: int


class CatchingUpChannel:
    """A mixin for socketio.RedisManager: publishing that never stalls its caller for long, and a listen loop tried
    again 1 s after losing Redis, then up to 5 s apart; both note what was missed for the live relay."""

    channel: str
    pubsub: Any
    redis_url: str
    redis_options: dict[str, Any]
    json: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self._unheard_since: datetime | None = None  # this process's pages missed what the others published
        self._unsent_since: datetime | None = None  # the others' pages missed what this process published
        self._quiet_until = 0.0
        self._listener_lost_at: datetime | None = None
        self._losses = 0
        self._publisher: redis.Redis | None = None

    def carries(self) -> bool:
        """Whether Redis carries this process's events both ways now, as far as it knows."""
        return self._listener_lost_at is None and time.monotonic() >= self._quiet_until

    def missed(self) -> Missed | None:
        """What is to be told again now; None when nothing was missed, or when Redis was just refused a publish."""
        with self._lock:
            unsent = self._unsent_since if time.monotonic() >= self._quiet_until else None
            since = min(filter(None, (self._unheard_since, unsent)), default=None)
            return Missed(since, unsent is not None, self._losses) if since else None

    def caught_up(self, missed: Missed) -> None:
        """missed was told again; a loss since then is still to be caught up on."""
        with self._lock:
            if self._losses == missed.losses:
                self._unheard_since = None
                if missed.everyone:
                    self._unsent_since = None

    def _publish(self, data: Any) -> int | None:
        if time.monotonic() < self._quiet_until:
            return None  # told again with what the failed publish noted: every event recorded since before it
        try:
            if self._publisher is None:
                waits = {"socket_connect_timeout": PUBLISH_TIMEOUT_SECONDS, "socket_timeout": PUBLISH_TIMEOUT_SECONDS}
                options = self.redis_options | waits | {"retry": REDIS_RETRY}
                self._publisher = redis.Redis.from_url(self.redis_url, **options)
            return self._publisher.publish(self.channel, self.json.dumps(data))
        except redis.RedisError as error:
            log.warning("could not publish to Redis, told again once it answers: %s", error)
            self._quiet_until = time.monotonic() + QUIET_SECONDS
            self._note_missed(now_utc(), unsent=True)
            return None

    def _note_missed(self, lost_at: datetime, unsent: bool) -> None:
        """Redis was lost at lost_at: the others' pages missed what this process published (unsent), or this
        process's pages what the others did."""
        since = lost_at - LOOK_BACK
        with self._lock:
            if unsent:
                self._unsent_since = min(since, self._unsent_since or since)
            else:
                self._unheard_since = min(since, self._unheard_since or since)
            self._losses += 1

    def _redis_listen_with_retries(self) -> Iterator[dict]:
        retry_in = FIRST_RETRY_SECONDS
        while True:
            try:
                self._redis_connect()  # type: ignore[attr-defined]
                self.pubsub.subscribe(self.channel)
                if (lost_at := self._listener_lost_at) is not None:
                    self._listener_lost_at, retry_in = None, FIRST_RETRY_SECONDS
                    self._note_missed(lost_at, unsent=False)
                    log.info("listening to Redis again; catching up on what was published since %s", lost_at)
                yield from self.pubsub.listen()
                problem: object = "the subscription ended"
            except Exception as error:  # whatever the driver raises, the loop must go on: pages depend on it
                problem = error
            self._listener_lost_at = self._listener_lost_at or now_utc()
            log.warning("lost Redis, listening again in %s s: %s", retry_in, problem)
            time.sleep(retry_in)
            retry_in = min(retry_in * 2, LONGEST_RETRY_SECONDS)
