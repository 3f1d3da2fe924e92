"""A buyer who opens the payment page while the database is down is asked to try again, and trying again once it
is back shows the payment, in Chromium against a real server on PostgreSQL behind a relay the test cuts."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.cluster import migrate
from tests.cuttable_proxy import CuttableProxy
from tests.live_server import LiveServer
from tests.services import postgres_behind_relay


@pytest.fixture
def server_on_a_cuttable_database(tmp_path: Path) -> Iterator[tuple[LiveServer, CuttableProxy]]:
    with postgres_behind_relay() as (relayed, proxy):
        migrate(relayed)
        server = LiveServer(tmp_path, DATABASE_URL=relayed)
        server.start()
        yield server, proxy
        server.stop()


def test_a_buyer_asked_to_try_again_sees_the_payment_once_the_database_is_back(
    server_on_a_cuttable_database: tuple[LiveServer, CuttableProxy], page: Page
) -> None:
    server, proxy = server_on_a_cuttable_database
    payment = server.create_payment(25)
    proxy.cut()
    page.goto(payment["page_url"])
    expect(page.get_by_role("heading", name="Serviço indisponível no momento")).to_be_visible()
    proxy.restore()
    # The first request after the outage may meet a connection that died with it.
    try_again = page.get_by_role("link", name="Tentar novamente")
    for _ in range(2):
        try_again.click()
        page.wait_for_load_state()
        if not try_again.is_visible():
            break
    expect(page.get_by_role("img", name="QR Code PIX")).to_be_visible()
    expect(page.locator(".amount")).to_have_text("R$\xa025,00")
