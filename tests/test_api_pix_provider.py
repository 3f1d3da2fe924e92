"""PIX_PROVIDER=api-pix: charges are created at the PSP, and only a BR Code that would scan is ever shown."""

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask

from app import create_app
from config import ConfigError
from db_models import Payment, db
from pix.providers import ApiPixProvider
from pix.psp_client import ApiPixClient, PspSettings
from tests.brcodes import dynamic_code
from tests.test_config import PRODUCTION

PSP = {"PIX_PROVIDER": "api-pix", "PIX_PSP_API_URL": "https://psp.test", "PIX_PSP_CLIENT_ID": "id"}
PSP |= {"PIX_PSP_CLIENT_SECRET": "secret"}
PSP_KEY = "123e4567-e12b-12d1-a456-426655440000"  # the development PIX_KEY, sent as the charge's chave


def fake_psp(answer: Callable[[httpx.Request, dict], httpx.Response]) -> httpx.MockTransport:
    """A PSP that issues tokens and answers PUT /cob/{txid} with answer(request, body)."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        return answer(request, json.loads(request.content or b"{}"))

    return httpx.MockTransport(handle)


def cob(request: httpx.Request, body: dict, code: str | None = None) -> httpx.Response:
    txid = request.url.path.rsplit("/", 1)[1]
    charge = {"txid": txid, "status": "ATIVA", "valor": body["valor"], "chave": body["chave"]}
    return httpx.Response(201, json=charge | {"pixCopiaECola": code or dynamic_code(amount=body["valor"]["original"])})


@pytest.fixture
def psp_app(app_config: dict[str, Any]) -> Callable[..., Flask]:
    """An api-pix app whose PSP answers with answer."""

    def make(answer: Callable[[httpx.Request, dict], httpx.Response]) -> Flask:
        app = create_app(app_config | PSP)
        client = ApiPixClient(app.config["PIX_PSP"], transport=fake_psp(answer))
        app.extensions["pix_provider"] = ApiPixProvider(client, app.config["PIX_MERCHANT"].key)
        return app

    return make


def payments(app: Flask) -> list[Payment]:
    with app.app_context():
        return list(db.session.execute(db.select(Payment)).scalars())


def test_a_payment_is_a_charge_at_the_psp_with_its_dynamic_code(psp_app: Callable) -> None:
    app = psp_app(cob)
    response = app.test_client().post("/payments/pix", json={"value": "10.50"})
    assert response.status_code == 201
    payment = response.get_json()["payment"]
    assert len(payment["txid"]) == 32
    assert payment["pix_copy_paste"] == dynamic_code(amount="10.50")
    [stored] = payments(app)
    assert (stored.provider, stored.txid) == ("api-pix", payment["txid"])
    assert dynamic_code(amount="10.50") in app.test_client().get(payment["page_url"]).get_data(as_text=True)


@pytest.mark.parametrize(
    ("code", "why"),
    [
        (dynamic_code(crc="0000"), "would not scan"),
        (dynamic_code(txid="STATIC123"), "would not scan"),
        (dynamic_code(amount="99.00"), "asks for 99.00"),
        # 10.50 to Decimal, not to a bank app: an amount is digits and at most two decimals.
        (dynamic_code(amount="1.05E1"), "field 54"),
        (dynamic_code(amount="+10.50"), "field 54"),
        (dynamic_code(amount="1_0.50"), "field 54"),
    ],
)
def test_a_psp_code_that_would_fail_is_never_shown(psp_app: Callable, code: str, why: str) -> None:
    app = psp_app(lambda request, body: cob(request, body, code))
    response = app.test_client().post("/payments/pix", json={"value": "10.50"})
    assert (response.status_code, response.get_json()["error"]["code"]) == (502, "psp_error")
    assert why in response.get_json()["error"]["message"]
    assert payments(app) == []


def test_a_psp_outage_is_a_503_and_nothing_is_stored(psp_app: Callable, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pix.psp_client.RETRY_PAUSES", (0, 0))
    app = psp_app(lambda request, body: httpx.Response(503, json={"title": "Serviço Indisponível"}))
    response = app.test_client().post("/payments/pix", json={"value": "10.50"})
    assert (response.status_code, response.get_json()["error"]["code"]) == (503, "psp_unavailable")
    assert payments(app) == []


def test_a_psp_that_hangs_is_a_503_not_a_hang(psp_app: Callable, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pix.psp_client.RETRY_PAUSES", (0, 0))

    def hang(request: httpx.Request, body: dict) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    response = psp_app(hang).test_client().post("/payments/pix", json={"value": "1"})
    assert response.status_code == 503


def test_a_psp_answer_that_cannot_be_read_is_a_503_not_a_500(
    psp_app: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pix.psp_client.RETRY_PAUSES", (0, 0))
    broken_gzip = httpx.ByteStream(b"\x1f\x8b truncated")
    app = psp_app(lambda request, body: httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=broken_gzip))
    response = app.test_client().post("/payments/pix", json={"value": "10.50"})
    assert (response.status_code, response.get_json()["error"]["code"]) == (503, "psp_unavailable")
    assert payments(app) == []


def test_a_charge_the_psp_refuses_says_the_psps_own_reason(psp_app: Callable) -> None:
    def refuse(request: httpx.Request, body: dict) -> httpx.Response:
        if request.method == "PUT":
            return httpx.Response(400, json={"title": "Cobrança inválida", "detail": "A chave não pertence ao usuário"})
        return httpx.Response(404, json={"title": "Cobrança não encontrada"})  # the look-up for a lost answer

    response = psp_app(refuse).test_client().post("/payments/pix", json={"value": "10.50"})
    assert (response.status_code, response.get_json()["error"]["code"]) == (502, "psp_error")
    assert "A chave não pertence ao usuário" in response.get_json()["error"]["message"]


def test_the_psp_is_told_the_checkouts_deadline_and_key(psp_app: Callable) -> None:
    seen: list[dict] = []

    def record(request: httpx.Request, body: dict) -> httpx.Response:
        seen.append(body)
        return cob(request, body)

    psp_app(record).test_client().post("/payments/pix", json={"value": "7"})
    assert seen == [{"calendario": {"expiracao": 1800}, "valor": {"original": "7.00"}, "chave": PSP_KEY}]


@pytest.mark.parametrize("missing", ["PIX_PSP_API_URL", "PIX_PSP_CLIENT_ID", "PIX_PSP_CLIENT_SECRET"])
def test_api_pix_needs_the_psps_address_and_credentials(app_config: dict, missing: str) -> None:
    with pytest.raises(ConfigError, match=missing):
        create_app(app_config | PSP | {missing: ""})


def test_a_missing_certificate_file_stops_startup(app_config: dict) -> None:
    with pytest.raises(ConfigError, match="PIX_PSP_CERTIFICATE"):
        create_app(app_config | PSP | {"PIX_PSP_CERTIFICATE": "/nowhere/client.pem"})


def test_production_talks_to_the_psp_only_over_https(app_config: dict) -> None:
    with pytest.raises(ConfigError, match="https"):
        create_app(app_config | PRODUCTION | PSP | {"SOCKETIO_ASYNC_MODE": "eventlet", "PIX_PSP_API_URL": "http://psp"})


def test_settings_reach_the_client(app_config: dict) -> None:
    app = create_app(app_config | PSP | {"PIX_PSP_TIMEOUT": "3.5"})
    settings: PspSettings = app.config["PIX_PSP"]
    assert (settings.token_url, settings.timeout) == ("https://psp.test/oauth/token", 3.5)


def test_a_certificate_that_is_no_pem_stops_startup(app_config: dict, tmp_path: Path) -> None:
    junk = tmp_path / "client.pem"
    junk.write_text("not a certificate")
    with pytest.raises(ConfigError, match="PIX_PSP_CERTIFICATE"):
        create_app(app_config | PSP | {"PIX_PSP_CERTIFICATE": str(junk)})


def test_the_pages_deadline_never_trails_the_psps_when_the_psp_is_slow(psp_app: Callable) -> None:
    made_at = []

    def slow_cob(request: httpx.Request, body: dict) -> httpx.Response:
        made_at.append(datetime.now(UTC))  # the PSP's clock starts the charge's expiracao here
        time.sleep(0.5)
        return cob(request, body)

    app = psp_app(slow_cob)
    assert app.test_client().post("/payments/pix", json={"value": "10.50"}).status_code == 201
    [stored] = payments(app)
    # Shown for longer than the PSP keeps the charge, a buyer could pay a code the bank already refuses.
    assert stored.expiration_date <= made_at[0] + app.config["PIX_EXPIRES_IN"]
