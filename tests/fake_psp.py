"""A PSP in the test process (an httpx transport): charges, received Pix, refunds, and outages on request."""

import json
import random
import string
from datetime import UTC, datetime

import httpx
from flask import Flask

from pix.providers import ApiPixProvider
from pix.psp_client import ApiPixClient
from tests.brcodes import dynamic_code


class FakePsp:
    """A PSP that keeps the charges made at it and the Pix it received; down when told so."""

    def __init__(self) -> None:
        self.charges: dict[str, dict] = {}
        self.received: list[dict] = []
        self.down = False
        self.garbled = False  # answers with a body that cannot be read (a broken gzip stream)
        self.listing_lags = False  # GET /pix does not show the latest Pix yet; GET /cob does
        self.refunds: dict[str, dict] = {}
        self.scripted: dict[str, tuple[int, object]] = {}  # txid: the (status, body) its GET /cob answers
        self.credentials_refused = False  # our token revoked, and the token endpoint refusing a new one

    def pay(self, txid: str | None, value: str, at: datetime | None = None) -> dict:
        """The buyer pays: the PSP records a Pix, and its webhook is lost."""
        end_to_end_id = "E12345678" + "".join(random.choices(string.ascii_letters, k=23))  # noqa: S311
        moment = (at or datetime.now(UTC)).isoformat()
        pix = {"endToEndId": end_to_end_id, "valor": value, "horario": moment} | ({"txid": txid} if txid else {})
        self.received.append(pix)
        return pix

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            return httpx.Response(503, json={"title": "Serviço Indisponível"})
        if self.garbled:
            return httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=httpx.ByteStream(b"\x1f\x8b..."))
        if self.credentials_refused:
            return httpx.Response(401, json={"error": "invalid_client"})
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        if "/devolucao/" in request.url.path:
            return self.refund(request)
        if request.url.path == "/v2/pix":
            listed = [] if self.listing_lags else self.received
            return httpx.Response(200, json={"parametros": {"paginacao": {"quantidadeDePaginas": 1}}, "pix": listed})
        txid = request.url.path.rsplit("/", 1)[1]
        if request.method == "GET" and txid in self.scripted:
            status, body = self.scripted[txid]
            return httpx.Response(status, json=body)
        if request.method == "PUT":
            body = json.loads(request.content)
            self.charges[txid] = {"txid": txid, "status": "ATIVA", "valor": body["valor"], "chave": body["chave"]}
            self.charges[txid]["pixCopiaECola"] = dynamic_code(amount=body["valor"]["original"])
        charge = self.charges[txid] | {"pix": [pix for pix in self.received if pix.get("txid") == txid]}
        return httpx.Response(201 if request.method == "PUT" else 200, json=charge)

    def refund(self, request: httpx.Request) -> httpx.Response:
        """PUT and GET /pix/{e2eid}/devolucao/{id}: refunds start in progress and settle when told."""
        refund_id = request.url.path.rsplit("/", 1)[1]
        if request.method == "PUT" and refund_id not in self.refunds:
            value = json.loads(request.content)["valor"]
            self.refunds[refund_id] = {
                "id": refund_id,
                "rtrId": "D" + "9" * 31,
                "valor": value,
                "status": "EM_PROCESSAMENTO",
            }
        if refund_id not in self.refunds:
            return httpx.Response(404, json={"title": "Não encontrado"})
        return httpx.Response(201 if request.method == "PUT" else 200, json=self.refunds[refund_id])


def with_fake_psp(app: Flask, psp: FakePsp) -> Flask:
    """app, its charges issued at psp instead of over the network."""
    client = ApiPixClient(app.config["PIX_PSP"], transport=httpx.MockTransport(psp.handle))
    app.extensions["pix_provider"] = ApiPixProvider(client, app.config["PIX_MERCHANT"].key)
    return app
