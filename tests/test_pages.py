"""The buyer's pages: pending with QR and countdown, paid, expired, not found."""

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask.testing import FlaskClient


def test_pending_page_shows_what_the_buyer_needs(client: FlaskClient, make_payment: Callable) -> None:
    payment = make_payment(1500)
    response = client.get(payment["page_url"])
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert '<html lang="pt-BR">' in html
    assert "R$\xa01.500,00" in html
    assert f"Pedido nº {payment['id']}" in html
    assert payment["pix_copy_paste"] in html
    assert "Copiar código" in html
    assert f'src="/payments/pix/qr_code/{payment["qr_code"]}.svg"' in html
    assert 'alt="QR Code PIX para pagar R$\xa01.500,00' in html
    assert 'id="countdown"' in html
    assert 'aria-live="polite"' in html
    assert "Conectando" in html


def test_every_page_names_the_order_as_the_shop_does(client: FlaskClient, expire: Callable, confirm: Callable) -> None:
    def pages_of(payment: dict) -> str:
        return client.get(payment["page_url"]).get_data(as_text=True)

    waiting = client.post("/payments/pix", json={"value": 10, "order_id": "LOJA-4821"}).get_json()["payment"]
    pending_html = pages_of(waiting)
    expired = client.post("/payments/pix", json={"value": 10, "order_id": "LOJA-4822"}).get_json()["payment"]
    expire(expired)
    paid = client.post("/payments/pix", json={"value": 10, "order_id": "LOJA-4823"}).get_json()["payment"]
    confirm(paid)
    for html, order in ((pending_html, "LOJA-4821"), (pages_of(expired), "LOJA-4822"), (pages_of(paid), "LOJA-4823")):
        assert f"Pedido {order}</title>" in html
        assert "nº" not in html  # not the checkout's own row number: the buyer would see two numbers for one order


def test_pages_load_nothing_from_other_hosts(client: FlaskClient, make_payment: Callable) -> None:
    html = client.get(make_payment()["page_url"]).get_data(as_text=True)
    assert "http://" not in html
    assert "https://" not in html
    assert "/static/vendor/socket.io/socket.io.min.js" in html


def test_paid_page_says_order_confirmed(client: FlaskClient, make_payment: Callable, confirm: Callable) -> None:
    payment = make_payment(42)
    confirm(payment)
    html = client.get(payment["page_url"]).get_data(as_text=True)
    assert "Pedido confirmado!" in html
    assert "R$\xa042,00" in html
    assert payment["pix_copy_paste"] not in html


def test_expired_page_replaces_the_qr_code(client: FlaskClient, make_payment: Callable, expire: Callable) -> None:
    payment = make_payment()
    expire(payment)
    response = client.get(payment["page_url"])
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Pagamento expirado" in html
    assert payment["qr_code"] not in html


def test_just_past_the_deadline_the_page_waits_for_a_last_second_payment(
    client: FlaskClient, make_payment: Callable, deadline_passed: Callable
) -> None:
    payment = make_payment()
    deadline_passed(payment, timedelta(seconds=1))  # within PIX_CLOCK_TOLERANCE_SECONDS (30)
    html = client.get(payment["page_url"]).get_data(as_text=True)
    assert "Confirmando o pagamento" in html and "Se você acabou de pagar, aguarde" in html
    assert 'class="closing"' in html  # the page hides the code to pay
    assert 25 <= int(re.search(r'data-closes-in="(\d+)"', html).group(1)) <= 29  # type: ignore[union-attr]
    assert "Pagamento expirado" not in html and "status=expired" not in html


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
UNKNOWN_TOKEN = "/payments/pix/" + "a" * 32


@pytest.mark.parametrize("accept", [BROWSER_ACCEPT, "*/*", None])
def test_an_unknown_payment_token_is_a_payment_not_found_page(client: FlaskClient, accept: str | None) -> None:
    response = client.get(UNKNOWN_TOKEN, headers={"Accept": accept} if accept else {})
    assert (response.status_code, response.mimetype) == (404, "text/html")
    assert "<h1>Pagamento não encontrado</h1>" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path", ["/nada", "/payments/pix/unknown-token", "/payments/pix/" + "a" * 500, "/admin/pagamentos/999999"]
)
def test_any_other_unknown_url_is_a_page_not_found_page(client: FlaskClient, path: str) -> None:
    response = client.get(path, headers={"Accept": BROWSER_ACCEPT})
    assert (response.status_code, response.mimetype) == (404, "text/html")
    html = response.get_data(as_text=True)
    assert "<h1>Página não encontrada</h1>" in html
    assert "Pagamento não encontrado" not in html


def test_a_json_client_asking_for_an_unknown_token_gets_the_api_error(client: FlaskClient) -> None:
    response = client.get(UNKNOWN_TOKEN, headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json() == {
        "error": {"status": 404, "code": "payment_not_found", "message": "no payment has this token"}
    }


@pytest.mark.parametrize("path", ["/nada", "/payments/pix/unknown-token", "/admin/pagamentos/999999"])
def test_a_json_client_asking_for_an_unknown_url_gets_the_api_error(client: FlaskClient, path: str) -> None:
    response = client.get(path, headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json() == {"error": {"status": 404, "code": "not_found", "message": "nothing is at this URL"}}


def test_walking_ids_reveals_no_payment(client: FlaskClient, make_payment: Callable) -> None:
    payments = [make_payment() for _ in range(3)]
    for payment in payments:
        assert client.get(f"/payments/pix/{payment['id']}").status_code == 404
        assert client.get(f"/payments/pix/{payment['id']}/status").status_code == 404


def test_demo_index_offers_a_test_payment(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    assert "Gerar cobrança PIX" in html
