"""The buyer's page in Chromium with a PSP on the other side: the simulator pays, the page turns paid."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from config.api_pix import DEVELOPMENT_PSP_TOKEN
from config.production import DEVELOPMENT_PIX_KEY
from tests.e2e.test_buyer_page import PAID_WITHIN_MS, wait_connected
from tests.live_server import LiveServer, free_port
from tests.simulator import CLIENT_ID, CLIENT_SECRET, SimulatorProcess


def checkout_and_simulator(workdir: Path, **settings: str) -> tuple[LiveServer, SimulatorProcess]:
    """A checkout (development, with settings) and a simulator registered for its webhook."""
    port = free_port()
    webhook = f"http://127.0.0.1:{port}/webhooks/api-pix?hmac={DEVELOPMENT_PSP_TOKEN}&ignorar="
    simulator = SimulatorProcess(workdir, SIM_WEBHOOK_URLS=f"{DEVELOPMENT_PIX_KEY}={webhook}")
    if settings.get("PIX_PROVIDER") == "api-pix":
        settings["PIX_PSP_API_URL"] = simulator.url
    return LiveServer(workdir, port, PIX_SIMULATOR_URL=simulator.url, **settings), simulator


@pytest.fixture
def static_pair(tmp_path: Path) -> Iterator[tuple[LiveServer, SimulatorProcess]]:
    """What `make run` starts: the static checkout and the simulator beside it."""
    checkout, simulator = checkout_and_simulator(tmp_path)
    simulator.start()
    checkout.start()
    yield checkout, simulator
    checkout.stop()
    simulator.stop()


@pytest.fixture
def api_pix_pair(tmp_path: Path) -> Iterator[tuple[LiveServer, SimulatorProcess]]:
    """The checkout with its charges at the simulated PSP."""
    checkout, simulator = checkout_and_simulator(
        tmp_path, PIX_PROVIDER="api-pix", PIX_PSP_CLIENT_ID=CLIENT_ID, PIX_PSP_CLIENT_SECRET=CLIENT_SECRET
    )
    simulator.start()
    checkout.start()
    yield checkout, simulator
    checkout.stop()
    simulator.stop()


def test_with_api_pix_the_page_goes_from_qr_to_paid_when_the_psp_is_paid(api_pix_pair, page: Page) -> None:
    checkout, simulator = api_pix_pair
    payment = checkout.create_payment("64.90")
    page.goto(payment["page_url"])
    expect(page.get_by_role("img", name="QR Code PIX")).to_be_visible()
    expect(page.locator("#copy-paste")).to_have_value(payment["pix_copy_paste"])
    assert "***" in payment["pix_copy_paste"]  # the PSP's dynamic code, not one built here
    wait_connected(page)
    with simulator.client() as control:
        assert control.post(f"/sim/cob/{payment['txid']}/pay", json={}).status_code == 201
    expect(page.get_by_role("heading", name="Pedido confirmado!")).to_be_visible(timeout=PAID_WITHIN_MS)


def test_in_development_the_buyer_pays_from_the_page_through_the_simulator(
    static_pair, context: BrowserContext, page: Page
) -> None:
    checkout, _ = static_pair
    payment = checkout.create_payment("12.34")
    page.goto(payment["page_url"])
    wait_connected(page)
    with context.expect_page() as opened:
        page.get_by_role("link", name="pagar com o simulador de PSP").click()
    simulator_page = opened.value
    expect(simulator_page.locator("#pixCopiaECola")).to_have_value(payment["pix_copy_paste"])
    simulator_page.get_by_role("button", name="Pagar", exact=True).click()
    expect(page.get_by_role("heading", name="Pedido confirmado!")).to_be_visible(timeout=5000)
    simulator_page.close()
