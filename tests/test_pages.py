"""The buyer's pages: pending with QR and countdown, paid, expired, not found."""

from collections.abc import Callable

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
    assert f'src="/payments/pix/qr_code/{payment["qr_code"]}"' in html
    assert 'alt="QR Code PIX para pagar R$\xa01.500,00' in html
    assert 'id="countdown"' in html
    assert 'aria-live="polite"' in html
    assert "Conectando" in html


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


@pytest.mark.parametrize(
    "path", ["/payments/pix/" + "a" * 32, "/payments/pix/unknown-token", "/payments/pix/" + "a" * 500, "/nada"]
)
def test_unknown_pages_are_404_pages(client: FlaskClient, path: str) -> None:
    response = client.get(path, headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert "Pagamento não encontrado" in response.get_data(as_text=True)


def test_walking_ids_reveals_no_payment(client: FlaskClient, make_payment: Callable) -> None:
    payments = [make_payment() for _ in range(3)]
    for payment in payments:
        assert client.get(f"/payments/pix/{payment['id']}").status_code == 404
        assert client.get(f"/payments/pix/{payment['id']}/status").status_code == 404


def test_demo_index_offers_a_test_payment(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    assert "Gerar cobrança PIX" in html
