"""The simulator's running parts, made once per app and shared by every blueprint."""

from dataclasses import dataclass

from flask import current_app

from psp_simulator.jws import LocationSigner
from psp_simulator.scheduler import Scheduler
from psp_simulator.settings import Settings
from psp_simulator.store import Store
from psp_simulator.tokens import TokenBook
from psp_simulator.webhook_book import WebhookBook
from psp_simulator.webhooks import WebhookSender

EXTENSION_NAME = "psp_simulator"


@dataclass(frozen=True)
class Simulator:
    """State (charges, webhooks, tokens), the background jobs, the webhook sender and the location signer."""

    settings: Settings
    store: Store
    webhooks: WebhookBook
    tokens: TokenBook
    scheduler: Scheduler
    sender: WebhookSender
    signer: LocationSigner

    def reset(self) -> None:
        """Back to the state at start: no charges, Pix, refunds or deliveries; only the preregistered webhooks."""
        self.scheduler.clear()
        self.store.reset()
        self.webhooks.reset()


def build_simulator(settings: Settings) -> Simulator:
    """A fresh simulator for settings; its background thread starts with the first job, not here."""
    book = WebhookBook(settings.webhook_urls)
    scheduler = Scheduler()
    return Simulator(
        settings=settings,
        store=Store(),
        webhooks=book,
        tokens=TokenBook(),
        scheduler=scheduler,
        sender=WebhookSender(book, scheduler, settings.webhook_client_cert, settings.webhook_ca),
        signer=LocationSigner(jwks_url=settings.public_url + "/sim/jwks"),
    )


def current_simulator() -> Simulator:
    """The simulator of the app handling the current request."""
    return current_app.extensions[EXTENSION_NAME]
