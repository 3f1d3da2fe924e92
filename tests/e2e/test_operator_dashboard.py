"""The operator's page in Chromium, live: payments move as the PSP is paid, dead letters go again, late money
goes back through the simulated PSP, all without reloading the page."""

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from itsdangerous import TimestampSigner
from playwright.sync_api import Page, Route, expect

from routes.operator_access import TICKET_HOURS, operator_ticket
from tests.e2e.test_buyer_page import move_deadline
from tests.e2e.test_content_security import watch_violations
from tests.e2e.test_paying_at_the_psp import checkout_and_simulator
from tests.live_server import LiveServer, free_port
from tests.receiver import Receiver
from tests.simulator import CLIENT_ID, CLIENT_SECRET, SimulatorProcess

ADMIN_TOKEN = "b3BlcmF0b3ItdG9rZW4tZm9yLWJyb3dzZXJz-9Xk3"
LIVE_WITHIN_MS = 5000


@pytest.fixture
def operated(tmp_path: Path) -> Iterator[tuple[LiveServer, SimulatorProcess]]:
    """The checkout with its charges at the simulated PSP, its webhook worker running, behind an operator token."""
    checkout, simulator = checkout_and_simulator(
        tmp_path,
        PIX_PROVIDER="api-pix",
        PIX_PSP_CLIENT_ID=CLIENT_ID,
        PIX_PSP_CLIENT_SECRET=CLIENT_SECRET,
        ADMIN_TOKEN=ADMIN_TOKEN,
        PIX_WORKER_IN_SERVER="true",
    )
    simulator.start()
    checkout.start()
    yield checkout, simulator
    checkout.stop()
    simulator.stop()


def log_in(page: Page, checkout: LiveServer) -> None:
    """Open /admin as an operator would: the login form, then the live dashboard."""
    page.goto(f"{checkout.url}/admin/")
    page.get_by_label("Token de operador").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Entrar").click()
    expect(page.get_by_role("heading", name="Painel de operação")).to_be_visible()
    expect(page.locator("#operator-live")).to_have_attribute("data-state", "connected")
    page.evaluate("window.sameDocument = true")  # gone if the page reloads: live means no reload


def payment_row(page: Page, payment: dict):
    return page.locator(f'#payments tr[data-payment="{payment["id"]}"]')


def test_an_operator_watches_a_payment_go_from_created_to_paid(operated, page: Page) -> None:
    checkout, simulator = operated
    refused = watch_violations(page)
    log_in(page, checkout)
    # A payment is created while the page's refresh is under way, after the server rendered it: the page hears
    # of it before that refresh lands, and must fetch again rather than wait for its 15 s refresh.
    created: list[dict] = []

    def create_during_the_refresh(route: Route) -> None:
        if route.request.resource_type != "fetch" or created:
            route.continue_()
            return
        answer = route.fetch()
        created.append(checkout.create_payment("42.00"))
        time.sleep(0.5)  # the browser gets the event meanwhile
        route.fulfill(response=answer)

    page.route("**/admin/", create_during_the_refresh)
    first = checkout.create_payment("41.00")  # its event starts the refresh
    expect(payment_row(page, first)).to_contain_text("aguardando", timeout=LIVE_WITHIN_MS)
    [payment] = created
    expect(payment_row(page, payment)).to_contain_text("aguardando", timeout=LIVE_WITHIN_MS)
    page.unroute("**/admin/")
    expect(page.locator('[data-number="created"]')).to_have_text("2")
    with simulator.client() as control:
        assert control.post(f"/sim/cob/{payment['txid']}/pay", json={}).status_code == 201
    expect(payment_row(page, payment).locator("td[data-status]")).to_have_text("pago", timeout=LIVE_WITHIN_MS)
    expect(page.locator('[data-number="paid"]')).to_have_text("1")
    expect(page.locator('[data-number="conversion"]')).to_have_text("50%")
    assert page.evaluate("window.sameDocument") is True

    payment_row(page, payment).get_by_role("link").click()
    expect(page.get_by_role("heading", name=f"Pagamento nº {payment['id']}")).to_be_visible()
    expect(page.locator("#payment-events")).to_contain_text("payment.paid")
    expect(page.locator("#notices")).to_contain_text("applied")
    expect(page.locator("#operator-live")).to_have_attribute("data-state", "connected")
    assert refused == []  # both pages, their script and their websocket, under the Content-Security-Policy


def test_an_operator_redelivers_a_dead_letter(operated, page: Page) -> None:
    checkout, _ = operated
    port = free_port()
    endpoint = {"url": f"http://127.0.0.1:{port}/hook", "retry_schedule": []}  # nobody listens: dead at once
    json_body = {"Content-Type": "application/json"}
    assert checkout.request("POST", "/webhooks/endpoints", json.dumps(endpoint).encode(), json_body)[0] == 201
    log_in(page, checkout)
    checkout.create_payment("10.00")
    dead_letter = page.locator("#dead-letters tbody tr")
    expect(dead_letter).to_contain_text("payment.created", timeout=LIVE_WITHIN_MS)
    with Receiver(port) as receiver:  # the shop's endpoint is back
        dead_letter.get_by_role("button", name="Reenviar").click()
        expect(page.get_by_role("status")).to_contain_text("será enviada de novo")
        deadline = time.monotonic() + 5
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [request.path for request in receiver.received] == ["/hook"]
    expect(page.locator("#dead-letters tbody tr")).to_have_count(0, timeout=LIVE_WITHIN_MS)


def test_an_operator_refunds_a_late_payment_through_the_psp(operated, page: Page) -> None:
    checkout, simulator = operated
    log_in(page, checkout)
    payment = checkout.create_payment("25.00")
    move_deadline(checkout, payment, -3600)  # the buyer pays an hour after the deadline
    with simulator.client() as control:
        assert control.post(f"/sim/cob/{payment['txid']}/pay", json={}).status_code == 201
    late = page.locator("#notices tbody tr", has_text="payment_expired")
    expect(late).to_contain_text("Devolver: pago após o prazo", timeout=LIVE_WITHIN_MS)
    late.get_by_role("button", name="Devolver").click()
    expect(page.get_by_role("status")).to_contain_text("Devolução")
    # The simulator settles the refund a second later and tells the checkout: the page hears it live.
    expect(late.locator(".refund")).to_have_attribute("data-status", "DEVOLVIDO", timeout=LIVE_WITHIN_MS)
    expect(late.get_by_role("button", name="Devolver")).to_have_count(0)
    with simulator.client() as control:
        [pix] = control.get("/sim/state").json()["pix"]
    assert [refund["status"] for refund in pix["devolucoes"]] == ["DEVOLVIDO"]


# As if the page had been open longer than a ticket lasts: the dashboard's ticket is dead before its script reads it.
EXPIRED_TICKET = """
new MutationObserver(function (changes, observer) {
  var live = document.getElementById("operator-live");
  if (live) { live.dataset.ticket = "ran-out"; observer.disconnect(); }
}).observe(document, { childList: true, subtree: true });
"""


def test_a_dashboard_whose_ticket_ran_out_goes_live_again_without_a_reload(operated, page: Page) -> None:
    checkout, _simulator = operated
    log_in(page, checkout)
    page.add_init_script(EXPIRED_TICKET)
    page.goto(f"{checkout.url}/admin/")
    expect(page.get_by_role("heading", name="Painel de operação")).to_be_visible()
    page.evaluate("window.sameDocument = true")
    expect(page.locator("#operator-live")).to_have_attribute("data-state", "connected", timeout=LIVE_WITHIN_MS)
    payment = checkout.create_payment("12.00")
    expect(payment_row(page, payment)).to_be_visible(timeout=LIVE_WITHIN_MS)
    assert page.evaluate("window.sameDocument") is True


def nearly_expired_ticket(monkeypatch: pytest.MonkeyPatch, seconds_left: int) -> str:
    """A ticket of the checkout's operators (signed with its ADMIN_TOKEN) that expires in seconds_left."""
    issuer = Flask(__name__)
    issuer.config["ADMIN_TOKEN"] = ADMIN_TOKEN
    with issuer.app_context(), monkeypatch.context() as backdated:
        backdated.setattr(
            TimestampSigner, "get_timestamp", lambda _: int(time.time()) - TICKET_HOURS * 3600 + seconds_left
        )
        return operator_ticket()


def test_a_dashboard_the_server_closed_when_its_ticket_expired_is_live_again_at_once(
    operated, page: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkout, _simulator = operated
    log_in(page, checkout)
    ticket = nearly_expired_ticket(monkeypatch, 4)
    page.add_init_script(EXPIRED_TICKET.replace('"ran-out"', json.dumps(ticket)))
    page.goto(f"{checkout.url}/admin/")
    page.evaluate("window.sameDocument = true")
    expect(page.locator("#operator-live")).to_have_attribute("data-state", "connected", timeout=LIVE_WITHIN_MS)
    time.sleep(5)  # the server closed that connection; the page, told so, fetched itself a fresh ticket
    payment = checkout.create_payment("13.00")
    # Sooner than the 15 s idle refresh: the page heard of it live.
    expect(payment_row(page, payment)).to_be_visible(timeout=LIVE_WITHIN_MS)
    assert page.evaluate("window.sameDocument") is True
