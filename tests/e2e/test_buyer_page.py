"""The buyer's page in a real browser against the real eventlet server, as a buyer sees it."""

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.refusing_proxy import UpgradeRefusingProxy
from tests.live_server import LiveServer

PAID_WITHIN_MS = 2000


def wait_connected(page: Page) -> None:
    expect(page.locator(".connection")).to_have_attribute("data-state", "connected", timeout=5000)


def move_deadline(server: LiveServer, payment: dict, seconds_from_now: float) -> None:
    """Change a payment's deadline straight in the server's database, as time passing would."""
    deadline = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=seconds_from_now)
    with sqlite3.connect(server.database) as connection:
        connection.execute("UPDATE payments SET expiration_date = ? WHERE id = ?", (deadline, payment["id"]))


def test_pending_page_shows_qr_amount_countdown_and_live_connection(live_server: LiveServer, page: Page) -> None:
    payment = live_server.create_payment(1500)
    page.goto(payment["page_url"])
    qr = page.get_by_role("img", name="QR Code PIX")
    expect(qr).to_be_visible()
    assert qr.evaluate("image => image.complete && image.naturalWidth > 0")
    expect(page.locator(".amount")).to_have_text("R$\xa01.500,00")
    wait_connected(page)
    expect(page.locator(".connection")).to_contain_text("Conectado")
    first = page.locator("#countdown").text_content()
    expect(page.locator("#countdown")).not_to_have_text(first, timeout=2500)


def test_confirmation_moves_the_page_to_paid_within_two_seconds(live_server: LiveServer, page: Page) -> None:
    payment = live_server.create_payment("49.90")
    page.goto(payment["page_url"])
    wait_connected(page)
    assert live_server.confirm(payment)[0] == 200
    expect(page.get_by_role("heading", name="Pedido confirmado!")).to_be_visible(timeout=PAID_WITHIN_MS)
    expect(page.locator("body")).to_contain_text("R$\xa049,90")


def test_payment_confirmed_before_the_page_opens_shows_paid_at_once(live_server: LiveServer, page: Page) -> None:
    payment = live_server.create_payment()
    live_server.confirm(payment)
    page.goto(payment["page_url"])
    expect(page.get_by_role("heading", name="Pedido confirmado!")).to_be_visible(timeout=500)


def test_confirming_one_payment_moves_only_its_page(live_server: LiveServer, context: BrowserContext, page: Page):
    confirmed, waiting = live_server.create_payment(10), live_server.create_payment(20)
    other_page = context.new_page()
    page.goto(confirmed["page_url"])
    other_page.goto(waiting["page_url"])
    wait_connected(page)
    wait_connected(other_page)
    live_server.confirm(confirmed)
    expect(page.get_by_role("heading", name="Pedido confirmado!")).to_be_visible(timeout=PAID_WITHIN_MS)
    other_page.wait_for_timeout(1000)
    expect(other_page.get_by_role("heading", name="Pague com PIX")).to_be_visible()
    assert other_page.url == waiting["page_url"]


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server this test may stop and start again."""
    server = LiveServer(tmp_path)
    server.start()
    yield server
    server.stop()


def test_page_survives_a_server_restart(own_server: LiveServer, page: Page) -> None:
    payment = own_server.create_payment()
    page.goto(payment["page_url"])
    wait_connected(page)
    own_server.stop()
    expect(page.locator(".connection")).to_have_attribute("data-state", "reconnecting", timeout=5000)
    own_server.start()
    assert own_server.confirm(payment)[0] == 200
    expect(page.get_by_role("heading", name="Pedido confirmado!")).to_be_visible(timeout=10_000)


GRACE_SECONDS = 4


@pytest.fixture(scope="module")
def short_grace_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose confirmations may come only a few seconds after a deadline (the default is 30)."""
    server = LiveServer(tmp_path_factory.mktemp("short-grace"), PIX_CLOCK_TOLERANCE_SECONDS=str(GRACE_SECONDS))
    server.start()
    yield server
    server.stop()


def test_expired_payment_shows_the_expired_page(live_server: LiveServer, page: Page) -> None:
    payment = live_server.create_payment()
    move_deadline(live_server, payment, -31)  # past the 30 s in which a confirmation may still come
    page.goto(payment["page_url"])
    expect(page.get_by_role("heading", name="Pagamento expirado")).to_be_visible()


def test_page_left_open_waits_out_the_grace_then_switches_to_expired(short_grace_server: LiveServer, page: Page):
    payment = short_grace_server.create_payment()
    move_deadline(short_grace_server, payment, 2)
    page.goto(payment["page_url"])
    wait_connected(page)
    expect(page.locator("#closing")).to_be_visible(timeout=4000)
    expect(page.get_by_role("img", name="QR Code PIX")).to_be_hidden()  # nothing left to pay
    expect(page.get_by_role("heading", name="Pagamento expirado")).to_be_visible(timeout=(GRACE_SECONDS + 6) * 1000)


def test_a_buyer_who_paid_at_the_last_second_sees_paid_not_expired(short_grace_server: LiveServer, page: Page):
    payment = short_grace_server.create_payment()
    move_deadline(short_grace_server, payment, -1)
    page.goto(payment["page_url"])
    # Before, the page said "expired: generate a new code" while the bank's confirmation was on its way.
    expect(page.locator("#closing")).to_contain_text("Se você acabou de pagar, aguarde")
    wait_connected(page)
    assert short_grace_server.confirm(payment)[0] == 200
    expect(page.get_by_role("heading", name="Pedido confirmado!")).to_be_visible(timeout=PAID_WITHIN_MS)


@pytest.mark.parametrize(
    ("path", "heading"),
    [("/payments/pix/" + "A" * 32, "Pagamento não encontrado"), ("/pagamento", "Página não encontrada")],
)
def test_unknown_page_is_a_404_page(live_server: LiveServer, page: Page, path: str, heading: str) -> None:
    response = page.goto(f"{live_server.url}{path}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)


def test_copy_button_puts_the_exact_br_code_on_the_clipboard(
    live_server: LiveServer, context: BrowserContext, page: Page
) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    payment = live_server.create_payment("1234.56")
    page.goto(payment["page_url"])
    page.get_by_role("button", name="Copiar código").click()
    expect(page.get_by_role("button", name="Copiado!")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == payment["pix_copy_paste"]
    expect(page.locator("#announcer")).to_have_text("Código PIX copiado!")


def test_where_websockets_are_blocked_the_page_goes_live_over_long_polling(live_server: LiveServer, page: Page) -> None:
    polled: list[str] = []
    page.on("request", lambda request: "transport=polling" in request.url and polled.append(request.url))
    payment = live_server.create_payment()
    with UpgradeRefusingProxy(live_server.port) as proxy:
        page.goto(proxy.url + urlsplit(payment["page_url"]).path)
        wait_connected(page)
        assert polled  # Engine.IO's long-polling, not only the page's status checks
        assert live_server.confirm(payment)[0] == 200
        expect(page.get_by_role("heading", name="Pedido confirmado!")).to_be_visible(timeout=PAID_WITHIN_MS)


def test_a_websocket_that_opens_and_then_says_nothing_delays_no_paid_buyer(live_server: LiveServer, page: Page) -> None:
    # A middlebox that accepts the upgrade and drops everything after: the client hears nothing for 20 s.
    page.route_web_socket("**/socket.io/**", lambda _websocket: None)
    payment = live_server.create_payment()
    page.goto(payment["page_url"])
    expect(page.locator(".connection")).not_to_have_attribute("data-state", "connected")
    assert live_server.confirm(payment)[0] == 200
    expect(page.get_by_role("heading", name="Pedido confirmado!")).to_be_visible(timeout=5000)


def test_the_countdown_keeps_time_when_the_phones_clock_is_corrected(live_server: LiveServer, page: Page) -> None:
    payment = live_server.create_payment()
    page.goto(payment["page_url"])
    wait_connected(page)
    page.clock.set_system_time(datetime.now(UTC) + timedelta(minutes=35))  # network time moves the clock on
    page.wait_for_timeout(1500)
    minutes = int(page.locator("#countdown").text_content().split(":")[0])
    assert minutes >= 28  # a 30-minute payment, not 00:00 on a code the bank still takes
    expect(page.locator(".connection")).to_have_attribute("data-state", "connected")


def test_where_the_browser_refuses_to_copy_the_buyer_is_told_to_copy_the_selected_code(
    live_server: LiveServer, page: Page
) -> None:
    payment = live_server.create_payment()
    page.goto(payment["page_url"])
    page.evaluate("() => { navigator.clipboard.writeText = () => Promise.reject(new Error('denied')); }")
    page.get_by_role("button", name="Copiar código").click()
    expect(page.locator("#announcer")).to_have_text("Código selecionado: copie-o pelo menu do seu celular.")
    selected = page.evaluate(
        "(f => f.value.substring(f.selectionStart, f.selectionEnd))(document.getElementById('copy-paste'))"
    )
    assert selected == payment["pix_copy_paste"]


def test_coming_back_from_the_bank_app_asks_for_the_status_at_once(live_server: LiveServer, page: Page) -> None:
    payment = live_server.create_payment()
    page.goto(payment["page_url"])
    wait_connected(page)
    page.wait_for_timeout(500)  # subscribed: the page only listens now
    with page.expect_request(lambda request: request.url == payment["status_url"], timeout=1000):
        page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")  # the tab is shown again


def test_the_countdown_takes_the_servers_deadline_when_the_page_comes_back(live_server: LiveServer, page: Page) -> None:
    # A phone whose monotonic clock stopped while it slept would count on from where it stopped: each status
    # answer sets the countdown by the server's clock instead.
    payment = live_server.create_payment()
    page.goto(payment["page_url"])
    wait_connected(page)
    move_deadline(live_server, payment, 125)
    page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
    expect(page.locator("#countdown")).to_have_text(re.compile(r"0[12]:\d\d"), timeout=3000)


# The page's first subscribe goes unanswered (a server too busy to answer within the client's 5 s).
FIRST_SUBSCRIBE_UNANSWERED = """
(() => {
  let wrapped;
  Object.defineProperty(window, "io", {
    configurable: true,
    get: () => wrapped,
    set(io) {
      wrapped = function () {
        const socket = io.apply(this, arguments);
        const timeout = socket.timeout.bind(socket);
        let dropped = false;
        socket.timeout = function (ms) {
          if (dropped) return timeout(ms);
          dropped = true;
          return { emit: (name, data, callback) => window.setTimeout(() => callback(new Error("timeout")), ms) };
        };
        return socket;
      };
    },
  });
})();
"""


def test_a_subscribe_that_went_unanswered_is_asked_again_and_the_polling_stops(
    live_server: LiveServer, page: Page
) -> None:
    payment = live_server.create_payment()
    page.add_init_script(FIRST_SUBSCRIBE_UNANSWERED)
    polls: list[str] = []
    page.on("request", lambda request: polls.append(request.url) if request.url.endswith("/status") else None)
    page.goto(payment["page_url"])
    wait_connected(page)
    page.wait_for_timeout(12_000)  # the ack's 5 s, then the retry 5 s later
    before = len(polls)
    page.wait_for_timeout(7_000)
    # Before, the page polled every 3 s for as long as it stayed open (a deadline may be a week away).
    assert len(polls) == before
    assert live_server.confirm(payment)[0] == 200
    expect(page.get_by_role("heading", name="Pedido confirmado!")).to_be_visible(timeout=PAID_WITHIN_MS)
