"""Webhook registrations per key and the log of delivery attempts, behind their own lock."""

import threading
from collections import deque

from psp_simulator.formats import now_utc
from psp_simulator.records import DeliveryAttempt, WebhookRegistration

DELIVERY_LOG_LENGTH = 1000


class WebhookBook:
    """Where each key's notices go (PUT /webhook/{chave}, or SIM_WEBHOOK_URLS) and how each attempt went."""

    def __init__(self, preregistered: dict[str, str] | None = None) -> None:
        self._lock = threading.Lock()
        self._preregistered = dict(preregistered or {})
        self.reset()

    def reset(self) -> None:
        """Forget the delivery log and every registration except those given at start."""
        now = now_utc()
        with self._lock:
            self._webhooks = {key: WebhookRegistration(key, url, now) for key, url in self._preregistered.items()}
            self._deliveries: deque[DeliveryAttempt] = deque(maxlen=DELIVERY_LOG_LENGTH)

    def register(self, key: str, url: str) -> WebhookRegistration:
        """Point key's notices at url, replacing any earlier registration."""
        registration = WebhookRegistration(key, url, now_utc())
        with self._lock:
            self._webhooks[key] = registration
        return registration

    def registration(self, key: str) -> WebhookRegistration | None:
        """The webhook registered for key, if any."""
        with self._lock:
            return self._webhooks.get(key)

    def remove(self, key: str) -> bool:
        """Forget key's webhook; False when there was none."""
        with self._lock:
            return self._webhooks.pop(key, None) is not None

    def registrations(self) -> list[WebhookRegistration]:
        """Every webhook registration, oldest first."""
        with self._lock:
            return list(self._webhooks.values())

    def log(self, attempt: DeliveryAttempt) -> None:
        """Add one attempt to the delivery log, which keeps the latest 1000."""
        with self._lock:
            self._deliveries.append(attempt)

    def deliveries(self) -> list[DeliveryAttempt]:
        """The delivery log, oldest first."""
        with self._lock:
            return list(self._deliveries)
