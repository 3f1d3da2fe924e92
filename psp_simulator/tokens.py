"""OAuth2 bearer tokens issued by POST /oauth/token, each good until it expires."""

import secrets
import threading
from datetime import datetime, timedelta


class TokenBook:
    """The tokens handed out to clients that proved their client_id and client_secret."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._expiry: dict[str, datetime] = {}

    def issue(self, lifetime_seconds: int, now: datetime) -> str:
        """A new bearer token that is good for lifetime_seconds."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._expiry = {known: until for known, until in self._expiry.items() if until > now}
            self._expiry[token] = now + timedelta(seconds=lifetime_seconds)
        return token

    def is_valid(self, token: str, now: datetime) -> bool:
        """Whether token was issued here and has not expired."""
        with self._lock:
            until = self._expiry.get(token)
        return until is not None and until > now
