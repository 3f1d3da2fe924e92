"""The whole loop of `make run` in a browser: create on the demo form, pay, the page turns paid, the demo shop
is told (signature verified, live), and the buyer comes back to the shop through a signed link."""

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.live_server import LiveServer


@pytest.fixture
def server_with_worker(tmp_path: Path) -> Iterator[LiveServer]:
    """`make run` as it is: the delivery worker inside the server, the demo shop registered as an endpoint."""
    server = LiveServer(tmp_path, PIX_WORKER_IN_SERVER="true")
    server.start()
    yield server
    server.stop()


def payment_behind(server: LiveServer, page_url: str) -> dict:
    """What the bank needs to confirm the payment whose page this is."""
    token = page_url.rsplit("/", 1)[1]
    with sqlite3.connect(server.database) as connection:
        bank_payment_id, cents = connection.execute(
            "SELECT bank_payment_id, value_cents FROM payments WHERE token = ?", (token,)
        ).fetchone()
    return {"bank_payment_id": bank_payment_id, "value": f"{cents / 100:.2f}"}


def test_create_pay_and_the_shop_is_told_live(
    server_with_worker: LiveServer, context: BrowserContext, page: Page
) -> None:
    shop = context.new_page()
    shop.goto(f"{server_with_worker.url}/demo-shop/")
    expect(shop.locator(".connection")).to_have_attribute("data-state", "connected", timeout=5000)
    expect(shop.get_by_text("Nenhum aviso ainda.")).to_be_visible()

    page.goto(f"{server_with_worker.url}/")
    page.get_by_label("Valor (R$)").fill("42,50")
    page.get_by_role("button", name="Gerar cobrança PIX").click()
    page.wait_for_url("**/payments/pix/*")
    rows = shop.locator("#events tr")
    expect(rows.first).to_contain_text("payment.created", timeout=5000)
    expect(rows.first).to_contain_text("aguardando")
    expect(rows.first.locator("td[data-verified]")).to_have_text("válida")

    assert server_with_worker.confirm(payment_behind(server_with_worker, page.url))[0] == 200
    expect(page.get_by_role("heading", name="Pedido confirmado!")).to_be_visible(timeout=3000)
    expect(rows.first).to_contain_text("payment.paid", timeout=5000)
    expect(rows.first).to_contain_text("pago")
    expect(rows.first.locator("td[data-verified]")).to_have_text("válida")
    assert rows.count() == 2

    page.get_by_role("link", name="Voltar à loja").click()
    expect(page.get_by_role("heading", name="Obrigado pela compra!")).to_be_visible()
    expect(page.get_by_text("pedido-")).to_be_visible()


def test_a_forged_return_link_is_not_believed(server_with_worker: LiveServer, page: Page) -> None:
    query = "payment_id=1&order_id=pedido-1&status=paid&ts=1900000000&signature=forged"
    page.goto(f"{server_with_worker.url}/demo-shop/retorno?{query}")
    expect(page.get_by_role("heading", name="Link inválido")).to_be_visible()


def paid_on_the_demo_form(server: LiveServer, page: Page, value: str) -> None:
    """A payment made on the demo form (so it returns to the demo shop), paid, its page showing it."""
    page.goto(f"{server.url}/")
    page.get_by_label("Valor (R$)").fill(value)
    page.get_by_role("button", name="Gerar cobrança PIX").click()
    page.wait_for_url("**/payments/pix/*")
    assert server.confirm(payment_behind(server, page.url))[0] == 200
    expect(page.get_by_role("heading", name="Pedido confirmado!")).to_be_visible(timeout=3000)


def test_the_paid_buyer_goes_back_to_the_shop_by_themselves_unless_they_choose_to_stay(
    server_with_worker: LiveServer, context: BrowserContext, page: Page
) -> None:
    staying = context.new_page()
    paid_on_the_demo_form(server_with_worker, staying, "10,00")
    expect(staying.get_by_text("Você volta para a loja em")).to_be_visible()
    # A time limit the buyer can turn off (WCAG 2.2.1): reading the receipt, they stay as long as they like.
    staying.get_by_role("button", name="Ficar nesta página").click()
    expect(staying.get_by_text("Volte à loja quando quiser")).to_be_visible()

    paid_on_the_demo_form(server_with_worker, page, "11,00")
    expect(page.get_by_text("segundo")).to_be_visible()
    expect(page.get_by_role("heading", name="Obrigado pela compra!")).to_be_visible(timeout=7000)
    staying.wait_for_timeout(1000)  # by now, more than the 5 s since it was paid
    expect(staying.get_by_role("heading", name="Pedido confirmado!")).to_be_visible()
