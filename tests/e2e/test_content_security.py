"""Every page works in Chromium under its Content-Security-Policy, and none can be framed by another site."""

from playwright.sync_api import Page, expect

from tests.e2e.test_buyer_page import wait_connected
from tests.live_server import LiveServer


def watch_violations(page: Page) -> list[str]:
    """Console messages in which the browser reports what the policy refused."""
    refused: list[str] = []
    page.on(
        "console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None
    )
    return refused


def test_every_page_runs_without_a_policy_violation(live_server: LiveServer, page: Page) -> None:
    refused = watch_violations(page)
    pending, paid = live_server.create_payment(10), live_server.create_payment(20)
    live_server.confirm(paid)
    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("button", name="Gerar cobrança PIX")).to_be_visible()
    page.goto(pending["page_url"])
    wait_connected(page)  # the websocket is allowed by connect-src 'self'
    expect(page.get_by_role("img", name="QR Code PIX")).to_be_visible()
    page.goto(paid["page_url"])
    expect(page.get_by_role("heading", name="Pedido confirmado!")).to_be_visible()
    page.goto(f"{live_server.url}/docs")
    expect(page.get_by_text("POST", exact=True).first).to_be_visible(timeout=10_000)
    page.goto(f"{live_server.url}/admin/?q={paid['txid']}")
    expect(page.get_by_role("heading", name="Painel de operação")).to_be_visible()
    expect(page.locator("#payments td[data-status=paid]")).to_have_count(1)
    assert refused == []


def test_a_payment_page_cannot_be_framed(live_server: LiveServer, page: Page) -> None:
    payment = live_server.create_payment(10)
    refused = watch_violations(page)
    page.set_content(f'<iframe src="{payment["page_url"]}" width="400" height="400"></iframe>')
    page.wait_for_timeout(1000)
    frame = page.frames[-1]
    assert "Pague com PIX" not in (frame.content() if frame is not page.main_frame else "")
    assert any("frame-ancestors" in text for text in refused)
