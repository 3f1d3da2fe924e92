"""The demo form of development says why the server refused a charge, in the server's own words."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.live_server import LiveServer


@pytest.fixture
def server_with_shop_key(tmp_path: Path) -> Iterator[LiveServer]:
    """Development with SHOP_API_KEY set: only the shop, not the browser's demo form, may create charges."""
    server = LiveServer(tmp_path, SHOP_API_KEY="a-development-shop-key-of-24+chars")
    server.start()
    yield server
    server.stop()


def submit(page: Page, url: str, value: str) -> None:
    page.goto(f"{url}/")
    page.get_by_label("Valor (R$)").fill(value)
    page.get_by_role("button", name="Gerar cobrança PIX").click()


def test_a_wrong_amount_shows_the_servers_reason(live_server: LiveServer, page: Page) -> None:
    submit(page, live_server.url, "0")
    expect(page.get_by_role("alert")).to_have_text(
        "A cobrança não foi criada (400 invalid_field): value must be greater than zero"
    )


def test_a_missing_shop_key_is_not_blamed_on_the_amount(server_with_shop_key: LiveServer, page: Page) -> None:
    submit(page, server_with_shop_key.url, "15,00")
    expect(page.get_by_role("alert")).to_have_text(
        "A cobrança não foi criada (401 invalid_api_key): send the shop's key as Authorization: Bearer <SHOP_API_KEY>"
    )
