"""Webhook delivery: POST {"pix": [...]} to the key's webhookUrl + "/pix", over mTLS, retrying with backoff."""

import json
import logging
import ssl
from dataclasses import dataclass
from typing import Any

import httpx

from psp_simulator.formats import now_utc
from psp_simulator.records import DeliveryAttempt
from psp_simulator.scheduler import Scheduler
from psp_simulator.webhook_book import WebhookBook

log = logging.getLogger(__name__)

# The wait before attempts 2 to 5; after the fifth failure the notice is dropped, as a PSP gives up at some point.
BACKOFF_SECONDS = (0.5, 1, 2, 4)
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1
TIMEOUT_SECONDS = 10
# The spec's callback path is "{webhookUrl}/pix", appended as text: https://shop/x?ignorar= becomes ...?ignorar=/pix.
CALLBACK_SUFFIX = "/pix"


@dataclass(frozen=True)
class Notice:
    """One body to deliver to one URL, and the Pix it announces."""

    key: str
    url: str
    body: bytes
    end_to_end_ids: tuple[str, ...]


def client_tls_context(client_cert: str | None, ca_file: str | None) -> ssl.SSLContext:
    """How the simulator calls webhooks: trusting ca_file (or the system store), presenting client_cert."""
    context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    if client_cert:
        context.load_cert_chain(client_cert)
    return context


class WebhookSender:
    """Announces received Pix to the webhook registered for their key, one attempt at a time on the scheduler."""

    def __init__(self, book: WebhookBook, scheduler: Scheduler, client_cert: str | None, ca_file: str | None) -> None:
        self._book = book
        self._scheduler = scheduler
        self._client_cert = client_cert
        self._ca_file = ca_file
        self._client: httpx.Client | None = None

    def send(self, key: str, items: list[dict[str, Any]]) -> None:
        """Queue {"pix": items} for key's webhook; without one, the log says the notice had nowhere to go."""
        ids = tuple(item["endToEndId"] for item in items)
        registration = self._book.registration(key)
        if registration is None:
            self._book.log(DeliveryAttempt(now_utc(), key, None, 0, ids, error="no webhook registered for this key"))
            log.info("Pix %s not announced: no webhook for key %s", ", ".join(ids), key)
            return
        body = json.dumps({"pix": items}, ensure_ascii=False).encode()
        notice = Notice(key, registration.url + CALLBACK_SUFFIX, body, ids)
        self._scheduler.call_later(0, lambda: self._attempt(notice, 1))

    def _attempt(self, notice: Notice, number: int) -> None:
        status_code, error = None, None
        try:
            response = self._http().post(notice.url, content=notice.body, headers={"Content-Type": "application/json"})
            status_code = response.status_code
        except (httpx.HTTPError, ssl.SSLError, OSError) as failure:
            error = f"{type(failure).__name__}: {failure}"
        attempt = DeliveryAttempt(now_utc(), notice.key, notice.url, number, notice.end_to_end_ids, status_code, error)
        self._book.log(attempt)
        log.info("webhook %s attempt %d: %s", notice.url, number, status_code or error)
        if not attempt.succeeded and number < MAX_ATTEMPTS:
            self._scheduler.call_later(BACKOFF_SECONDS[number - 1], lambda: self._attempt(notice, number + 1))

    def _http(self) -> httpx.Client:
        # Built on first use, on the scheduler's thread, so creating the app reads no files.
        if self._client is None:
            self._client = httpx.Client(
                verify=client_tls_context(self._client_cert, self._ca_file),
                timeout=TIMEOUT_SECONDS,
                follow_redirects=False,
                # Proxy variables of the developer's shell would send local webhooks astray.
                trust_env=False,
            )
        return self._client
