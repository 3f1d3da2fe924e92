"""The PSP simulator, run as `python -m psp_simulator` and driven over real HTTP, the way the checkout will use it."""

import binascii
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import jwt
import pytest

from pix.brcode import Merchant, build_brcode
from pix.brcode_reader import read_dynamic_brcode
from psp_simulator.dev_tls import make_dev_tls
from tests.certificates import Pki, make_pki
from tests.live_server import REPO_ROOT, free_port
from tests.simulator import SimulatorProcess

CLIENT = ("checkout-dev", "checkout-dev-secret")
PRESET_KEY = "preset@example.com"
REFUND_SECONDS = 0.3
END_TO_END_ID = re.compile(r"E12345678\d{12}[a-z0-9]{11}")
RETURN_ID = re.compile(r"D12345678\d{12}[a-z0-9]{11}")
HORARIO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
PROBLEM_BASE = "https://pix.bcb.gov.br/api/v2/error/"


@dataclass(frozen=True)
class Received:
    """One POST the shop's webhook got."""

    path: str
    body: Any
    content_type: str | None
    client_certificate: dict[str, Any] | None
    at: float


class WebhookReceiver:
    """A shop's webhook in the test process: records every POST and answers scripted statuses (default 200)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[Received] = []
        self.statuses: dict[str, list[int]] = {}
        self.refused_connections = 0
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                certificate = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
                status = receiver._status_for(self.path)
                content_type = self.headers["Content-Type"]
                receiver._record(Received(self.path, json.loads(body), content_type, certificate, time.monotonic()))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                receiver.refused_connections += 1

        self.server = Server(("127.0.0.1", 0), Handler)
        if tls:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True, do_handshake_on_connect=False)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _status_for(self, path: str) -> int:
        with self._arrived:
            scripted = self.statuses.get(path)
            return scripted.pop(0) if scripted else 200

    def _record(self, request: Received) -> None:
        with self._arrived:
            self.requests.append(request)
            self._arrived.notify_all()

    def at(self, path: str) -> list[Received]:
        """The requests that reached path so far."""
        with self._arrived:
            return [request for request in self.requests if request.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 10) -> list[Received]:
        """The first count requests to path, waiting for them to arrive."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(found := [r for r in self.requests if r.path == path]) < count:
                if not self._arrived.wait(deadline - time.monotonic()):
                    raise AssertionError(f"{len(found)} of {count} webhook calls to {path} within {timeout} s")
        return found[:count]

    def close(self) -> None:
        """Stop listening."""
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """CAs and certificates for this module's mutual TLS, made fresh in a temporary folder."""
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    """A plain HTTP webhook; each test registers its own path on it."""
    webhook = WebhookReceiver()
    yield webhook
    webhook.close()


@pytest.fixture(scope="module")
def tls_receiver(pki: Pki) -> Iterator[WebhookReceiver]:
    """A webhook behind mutual TLS that only talks to clients with a certificate from the PSP's CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.psp_ca))
    context.load_cert_chain(pki.server_cert, pki.server_key)
    context.verify_mode = ssl.CERT_REQUIRED
    webhook = WebhookReceiver(tls=context)
    yield webhook
    webhook.close()


@pytest.fixture(scope="module")
def simulator(
    tmp_path_factory: pytest.TempPathFactory, pki: Pki, receiver: WebhookReceiver
) -> Iterator[SimulatorProcess]:
    """The simulator under test: fast refunds, the PSP's client certificate for webhooks, one preset webhook."""
    process = SimulatorProcess(
        tmp_path_factory.mktemp("simulator"),
        SIM_REFUND_SECONDS=str(REFUND_SECONDS),
        SIM_WEBHOOK_CLIENT_CERT=str(pki.psp_client),
        SIM_WEBHOOK_CA=str(pki.server_ca),
        SIM_WEBHOOK_URLS=f"{PRESET_KEY}={receiver.url}/preset",
    )
    process.start()
    yield process
    process.stop()
    # Whatever the tests sent, the simulator answered it: no request ever crashed a handler.
    assert "Traceback" not in process.log_path.read_text()


@pytest.fixture(scope="module")
def control(simulator: SimulatorProcess) -> Iterator[httpx.Client]:
    """The simulator's control API and page: no credentials."""
    with simulator.client() as client:
        yield client


@pytest.fixture(scope="module")
def api(simulator: SimulatorProcess) -> Iterator[httpx.Client]:
    """The API Pix with a bearer token, as the checkout calls it."""
    with simulator.client() as client:
        answer = client.post("/oauth/token", auth=CLIENT, data={"grant_type": "client_credentials"})
        client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        yield client


def new_key() -> str:
    """A Pix key no other test uses, so each test has its own webhook."""
    return f"loja-{uuid4().hex[:12]}@example.com"


def hook(api: httpx.Client, receiver: WebhookReceiver, key: str, suffix: str = "") -> str:
    """Register a fresh webhook URL for key; the path where its notices will arrive."""
    path = f"/shop/{uuid4().hex}"
    answer = api.put(f"/v2/webhook/{key}", json={"webhookUrl": receiver.url + path + suffix})
    assert answer.status_code == 200, answer.text
    return path + suffix + "/pix"


def create_charge(api: httpx.Client, key: str, valor: str = "15.00", **fields: Any) -> dict[str, Any]:
    """A new charge through PUT /v2/cob/{txid}."""
    body = {"calendario": {"expiracao": 3600}, "valor": {"original": valor}, "chave": key} | fields
    answer = api.put(f"/v2/cob/{uuid4().hex}", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def pay(control: httpx.Client, txid: str, **order: Any) -> list[dict[str, Any]]:
    """The Pix created by paying txid through the control API."""
    answer = control.post(f"/sim/cob/{txid}/pay", json=order)
    assert answer.status_code == 201, answer.text
    return answer.json()["pix"]


def problem(answer: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    """The problem+json body of answer, checked to be of status and the spec's type kind."""
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"] == "application/problem+json"
    body = answer.json()
    assert body["type"] == PROBLEM_BASE + kind
    assert body["status"] == status
    return body


def deliveries_of(control: httpx.Client, end_to_end_id: str) -> list[dict[str, Any]]:
    """The delivery log's attempts that carried end_to_end_id."""
    return [d for d in control.get("/sim/state").json()["deliveries"] if end_to_end_id in d["endToEndIds"]]


def eventually(check: Callable[[], Any], timeout: float = 10) -> Any:
    """check()'s first truthy answer, trying until timeout."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(0.05)
    return result


def emv_fields(text: str) -> dict[str, str]:
    """The fields of one EMV level, read here independently of the simulator's own reader."""
    fields, position = {}, 0
    while position < len(text):
        length = int(text[position + 2 : position + 4])
        fields[text[position : position + 2]] = text[position + 4 : position + 4 + length]
        position += 4 + length
    return fields


def window() -> dict[str, str]:
    """An inicio/fim window around now, with pages big enough for everything this module creates."""
    now = datetime.now(UTC)
    start, end = (now - timedelta(hours=1)).isoformat(), (now + timedelta(hours=1)).isoformat()
    return {"inicio": start, "fim": end, "paginacao.itensPorPagina": "1000"}


def test_token_with_the_client_credentials_is_a_bearer_token_with_the_api_pix_scopes(control: httpx.Client) -> None:
    answer = control.post("/oauth/token", auth=CLIENT, data={"grant_type": "client_credentials"})

    assert answer.status_code == 200
    token = answer.json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
    assert {"cob.write", "cob.read", "pix.read", "pix.write", "webhook.write"} <= set(token["scope"].split())


def test_token_with_a_wrong_secret_is_refused_with_401(control: httpx.Client) -> None:
    answer = control.post("/oauth/token", auth=(CLIENT[0], "wrong"), data={"grant_type": "client_credentials"})

    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_client"


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token-we-issued", "Basic Y2hlY2tvdXQtZGV2Og=="])
def test_api_call_without_a_valid_token_is_refused_with_401(control: httpx.Client, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    answer = control.get(f"/v2/cob/{uuid4().hex}", headers=headers)

    problem(answer, 401, "AcessoNegado")


@pytest.mark.parametrize("text", ["Camiseta\u00a0azul (M)", "Guarda\u00adchuva", "\u4e2d\u6587 \U0001f600"])
def test_a_description_is_any_text_without_controls(api: httpx.Client, text: str) -> None:
    # The API Pix limits solicitacaoPagador to 140 characters, nothing else: a checkout's shop may well send these.
    body = {"calendario": {"expiracao": 600}, "valor": {"original": "10.00"}, "chave": new_key()}
    answer = api.put(f"/v2/cob/{uuid4().hex}", json=body | {"solicitacaoPagador": text})
    assert (answer.status_code, answer.json()["solicitacaoPagador"]) == (201, text)
    refused = api.put(f"/v2/cob/{uuid4().hex}", json=body | {"solicitacaoPagador": text + "\n"})
    assert refused.status_code == 400


def test_put_cob_answers_a_cob_gerada_with_its_location_and_pix_copia_e_cola(api: httpx.Client) -> None:
    key = new_key()
    txid = uuid4().hex

    answer = api.put(
        f"/v2/cob/{txid}",
        json={"calendario": {"expiracao": 600}, "valor": {"original": "1500.00"}, "chave": key,
              "solicitacaoPagador": "Pedido 42", "devedor": {"cpf": "12345678909", "nome": "Fulana"}},
    )  # fmt: skip

    assert answer.status_code == 201
    cob = answer.json()
    assert cob["txid"] == txid and cob["revisao"] == 0 and cob["status"] == "ATIVA"
    assert cob["calendario"]["expiracao"] == 600 and HORARIO.fullmatch(cob["calendario"]["criacao"])
    assert cob["valor"] == {"original": "1500.00"} and cob["chave"] == key
    assert cob["solicitacaoPagador"] == "Pedido 42" and cob["devedor"] == {"cpf": "12345678909", "nome": "Fulana"}
    assert cob["location"] == cob["loc"]["location"] and cob["loc"]["tipoCob"] == "cob"
    assert cob["location"].startswith("127.0.0.1:") and len(cob["location"]) <= 77


def test_post_cob_creates_a_charge_with_a_txid_the_psp_picks(api: httpx.Client) -> None:
    answer = api.post("/v2/cob", json={"valor": {"original": "9.90"}, "chave": new_key()})

    assert answer.status_code == 201
    cob = answer.json()
    assert re.fullmatch(r"[a-zA-Z0-9]{26,35}", cob["txid"])
    assert cob["calendario"]["expiracao"] == 86400
    assert api.get(f"/v2/cob/{cob['txid']}").json()["status"] == "ATIVA"


def test_put_cob_with_a_txid_already_used_is_refused(api: httpx.Client) -> None:
    cob = create_charge(api, new_key())

    answer = api.put(f"/v2/cob/{cob['txid']}", json={"valor": {"original": "1.00"}, "chave": new_key()})

    body = problem(answer, 400, "CobOperacaoInvalida")
    assert "já foi utilizado" in body["detail"]
    assert api.get(f"/v2/cob/{cob['txid']}").json()["valor"] == {"original": "15.00"}


@pytest.mark.parametrize(
    ("body", "bad_property"),
    [
        ({"valor": {"original": "0.00"}, "chave": "k"}, "cob.valor.original"),
        ({"valor": {"original": 10.5}, "chave": "k"}, "cob.valor.original"),
        ({"valor": {"original": "10,50"}, "chave": "k"}, "cob.valor.original"),
        ({"valor": {"original": "10.00"}}, "cob.chave"),
        ({"valor": {"original": "10.00"}, "chave": "k" * 78}, "cob.chave"),
        ({"valor": {"original": "10.00"}, "chave": "k", "calendario": {"expiracao": -1}}, "cob.calendario.expiracao"),
        ({"valor": {"original": "10.00"}, "chave": "k", "calendario": {"expiracao": True}}, "cob.calendario.expiracao"),
        ({"valor": {"original": "10.00"}, "chave": "k", "solicitacaoPagador": "x" * 141}, "cob.solicitacaoPagador"),
        ({"valor": {"original": "10.00"}, "chave": "k", "devedor": {"cpf": "123", "nome": "A"}}, "cob.devedor"),
    ],
)
def test_put_cob_with_a_bad_field_names_it_in_problem_json(
    api: httpx.Client, body: dict[str, Any], bad_property: str
) -> None:
    answer = api.put(f"/v2/cob/{uuid4().hex}", json=body)

    violations = problem(answer, 400, "CobOperacaoInvalida")["violacoes"]
    assert bad_property in [violation["propriedade"] for violation in violations]


@pytest.mark.parametrize(
    ("txid", "content"),
    [
        ("short", b'{"valor": {"original": "1.00"}, "chave": "k"}'),
        (uuid4().hex, b"not json"),
        (uuid4().hex, b"[1, 2]"),
        (uuid4().hex, b"[" * 50000),
    ],
)
def test_put_cob_with_a_bad_txid_or_body_is_a_400_not_a_crash(api: httpx.Client, txid: str, content: bytes) -> None:
    answer = api.put(f"/v2/cob/{txid}", content=content, headers={"Content-Type": "application/json"})

    problem(answer, 400, "CobOperacaoInvalida")


def test_get_cob_of_an_unknown_txid_is_404(api: httpx.Client) -> None:
    problem(api.get(f"/v2/cob/{uuid4().hex}"), 404, "CobNaoEncontrado")


def test_patch_cob_revises_an_active_charge_and_counts_the_revision(api: httpx.Client) -> None:
    cob = create_charge(api, new_key())

    answer = api.patch(f"/v2/cob/{cob['txid']}", json={"valor": {"original": "20.00"}, "solicitacaoPagador": "Novo"})

    assert answer.status_code == 200
    revised = answer.json()
    assert revised["revisao"] == 1 and revised["valor"] == {"original": "20.00"}
    assert revised["solicitacaoPagador"] == "Novo"
    assert emv_fields(revised["pixCopiaECola"])["54"] == "20.00"
    assert api.get(f"/v2/cob/{cob['txid']}").json()["revisao"] == 1


def test_removed_charge_can_no_longer_be_revised_and_its_location_is_gone(
    api: httpx.Client, control: httpx.Client
) -> None:
    cob = create_charge(api, new_key())

    removed = api.patch(f"/v2/cob/{cob['txid']}", json={"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR"})

    assert removed.status_code == 200 and removed.json()["status"] == "REMOVIDA_PELO_USUARIO_RECEBEDOR"
    problem(api.patch(f"/v2/cob/{cob['txid']}", json={"valor": {"original": "1.00"}}), 400, "CobOperacaoInvalida")
    problem(control.get(f"http://{cob['location']}"), 404, "CobPayloadNaoEncontrado")


def test_removal_together_with_another_change_is_refused(api: httpx.Client) -> None:
    cob = create_charge(api, new_key())
    body = {"status": "REMOVIDA_PELO_USUARIO_RECEBEDOR", "valor": {"original": "1.00"}}

    problem(api.patch(f"/v2/cob/{cob['txid']}", json=body), 400, "CobOperacaoInvalida")

    assert api.get(f"/v2/cob/{cob['txid']}").json()["status"] == "ATIVA"


def test_list_of_charges_filters_by_window_and_status(api: httpx.Client, control: httpx.Client) -> None:
    key = new_key()
    paid, waiting = create_charge(api, key), create_charge(api, key)
    pay(control, paid["txid"], deliver=False)

    answer = api.get("/v2/cob", params=window() | {"status": "CONCLUIDA"})

    assert answer.status_code == 200
    listed = {cob["txid"] for cob in answer.json()["cobs"]}
    assert paid["txid"] in listed and waiting["txid"] not in listed
    assert answer.json()["parametros"]["paginacao"]["quantidadeTotalDeItens"] == len(listed)
    problem(api.get("/v2/cob", params={"inicio": "ontem", "fim": "hoje"}), 400, "CobConsultaInvalida")


def test_list_of_charges_comes_in_pages(api: httpx.Client) -> None:
    key = new_key()
    first, second = create_charge(api, key), create_charge(api, key)
    since = {"inicio": first["calendario"]["criacao"], "fim": second["calendario"]["criacao"]}

    pages = [
        api.get("/v2/cob", params=since | {"paginacao.itensPorPagina": "1", "paginacao.paginaAtual": str(n)})
        for n in (0, 1)
    ]

    assert [[cob["txid"] for cob in page.json()["cobs"]] for page in pages] == [[first["txid"]], [second["txid"]]]
    assert pages[0].json()["parametros"]["paginacao"] == {
        "paginaAtual": 0, "itensPorPagina": 1, "quantidadeDePaginas": 2, "quantidadeTotalDeItens": 2
    }  # fmt: skip


def test_dynamic_brcode_has_a_valid_crc_its_location_and_no_txid(api: httpx.Client) -> None:
    cob = create_charge(api, new_key(), valor="1500.00")
    code = cob["pixCopiaECola"]

    fields = emv_fields(code)
    account, additional = emv_fields(fields["26"]), emv_fields(fields["62"])
    assert code[-8:-4] == "6304" and code[-4:] == f"{binascii.crc_hqx(code[:-4].encode(), 0xFFFF):04X}"
    assert fields["00"] == "01" and fields["01"] == "12"
    assert account == {"00": "br.gov.bcb.pix", "25": cob["location"]} and "://" not in account["25"]
    assert additional["05"] == "***"
    assert (fields["52"], fields["53"], fields["54"], fields["58"]) == ("0000", "986", "1500.00", "BR")
    assert (fields["59"], fields["60"]) == ("Loja Exemplo", "SAO PAULO")
    assert len(code) <= 512
    # The checkout's own reader of PSP codes accepts it.
    assert read_dynamic_brcode(code).location == cob["location"]


def test_location_serves_the_charge_as_a_jws_that_the_jwks_verifies(api: httpx.Client, control: httpx.Client) -> None:
    cob = create_charge(api, new_key(), valor="33.30", solicitacaoPagador="Pedido 7")

    answer = control.get(f"http://{cob['location']}")

    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/jose"
    header = jwt.get_unverified_header(answer.text)
    assert header["alg"] == "RS256" and header["kid"]
    key = jwt.PyJWKSet.from_dict(control.get("/sim/jwks").json())[header["kid"]]
    payload = json.loads(jwt.PyJWS().decode(answer.text, key.key, algorithms=["RS256"]))
    assert payload["txid"] == cob["txid"] and payload["revisao"] == 0 and payload["status"] == "ATIVA"
    assert payload["valor"] == {"original": "33.30"} and payload["chave"] == cob["chave"]
    assert payload["solicitacaoPagador"] == "Pedido 7"
    assert payload["calendario"]["criacao"] == cob["calendario"]["criacao"] and payload["calendario"]["apresentacao"]
    head, _, signature = answer.text.split(".")
    forged = jwt.utils.base64url_encode(json.dumps(payload | {"valor": {"original": "0.01"}}).encode()).decode()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.PyJWS().decode(f"{head}.{forged}.{signature}", key.key, algorithms=["RS256"])


def test_location_of_an_expired_charge_is_404_while_the_record_stays_active(
    api: httpx.Client, control: httpx.Client
) -> None:
    cob = create_charge(api, new_key(), calendario={"expiracao": 1})

    time.sleep(1.1)

    problem(control.get(f"http://{cob['location']}"), 404, "CobPayloadNaoEncontrado")
    assert api.get(f"/v2/cob/{cob['txid']}").json()["status"] == "ATIVA"


def test_payment_posts_the_pix_to_the_webhook_and_concludes_the_charge(
    api: httpx.Client, control: httpx.Client, receiver: WebhookReceiver
) -> None:
    key = new_key()
    path = hook(api, receiver, key)
    cob = create_charge(api, key, valor="15.00")

    [pix] = pay(control, cob["txid"])

    [notice] = receiver.wait_for(path)
    assert notice.content_type == "application/json"
    assert notice.body == {"pix": [pix]}
    assert END_TO_END_ID.fullmatch(pix["endToEndId"]) and HORARIO.fullmatch(pix["horario"])
    assert (pix["txid"], pix["valor"], pix["chave"]) == (cob["txid"], "15.00", key)
    assert pix["endToEndId"][9:21] == pix["horario"][:16].replace("-", "").replace("T", "").replace(":", "")
    charge = api.get(f"/v2/cob/{cob['txid']}").json()
    assert charge["status"] == "CONCLUIDA" and charge["pix"] == [pix]
    assert api.get(f"/v2/pix/{pix['endToEndId']}").json() == pix


@pytest.mark.parametrize(
    ("order", "valor"),
    [
        ({"valor": "14.99"}, "14.99"),
        ({"horario": (datetime.now(UTC) + timedelta(hours=2)).isoformat()}, "15.00"),
    ],
    ids=["wrong amount", "after the deadline"],
)
def test_payment_of_another_amount_or_after_expiry_is_kept_but_leaves_the_charge_active(
    api: httpx.Client, control: httpx.Client, receiver: WebhookReceiver, order: dict[str, Any], valor: str
) -> None:
    key = new_key()
    path = hook(api, receiver, key)
    cob = create_charge(api, key, valor="15.00")

    [pix] = pay(control, cob["txid"], **order)

    assert receiver.wait_for(path)[0].body == {"pix": [pix]} and pix["valor"] == valor
    charge = api.get(f"/v2/cob/{cob['txid']}").json()
    assert charge["status"] == "ATIVA" and charge["pix"] == [pix]


def test_payment_without_the_webhook_is_recorded_but_nothing_is_sent(
    api: httpx.Client, control: httpx.Client, receiver: WebhookReceiver
) -> None:
    key = new_key()
    path = hook(api, receiver, key)
    cob = create_charge(api, key)

    [pix] = pay(control, cob["txid"], deliver=False)

    listed = api.get("/v2/pix", params=window() | {"txid": cob["txid"]}).json()
    assert listed["pix"] == [pix] and listed["parametros"]["paginacao"]["quantidadeTotalDeItens"] == 1
    assert api.get(f"/v2/cob/{cob['txid']}").json()["status"] == "CONCLUIDA"
    time.sleep(0.5)
    assert receiver.at(path) == [] and deliveries_of(control, pix["endToEndId"]) == []


def test_copies_2_delivers_the_same_pix_twice(
    api: httpx.Client, control: httpx.Client, receiver: WebhookReceiver
) -> None:
    key = new_key()
    path = hook(api, receiver, key)
    cob = create_charge(api, key)

    [pix] = pay(control, cob["txid"], copies=2)

    first, second = receiver.wait_for(path, count=2)
    assert first.body == second.body == {"pix": [pix]}


def test_times_2_makes_two_distinct_pix_for_the_same_charge(
    api: httpx.Client, control: httpx.Client, receiver: WebhookReceiver
) -> None:
    key = new_key()
    path = hook(api, receiver, key)
    cob = create_charge(api, key)

    first, second = pay(control, cob["txid"], times=2)

    assert first["endToEndId"] != second["endToEndId"] and first["txid"] == second["txid"] == cob["txid"]
    notices = receiver.wait_for(path, count=2)
    assert sorted(n.body["pix"][0]["endToEndId"] for n in notices) == sorted(
        [first["endToEndId"], second["endToEndId"]]
    )
    charge = api.get(f"/v2/cob/{cob['txid']}").json()
    assert charge["status"] == "CONCLUIDA" and len(charge["pix"]) == 2


def test_batch_sends_both_pix_in_one_webhook_call(
    api: httpx.Client, control: httpx.Client, receiver: WebhookReceiver
) -> None:
    key = new_key()
    path = hook(api, receiver, key)
    cob = create_charge(api, key)

    received = pay(control, cob["txid"], times=2, batch=True)

    assert receiver.wait_for(path)[0].body == {"pix": received}


def test_pix_without_txid_reaches_the_webhook_of_its_key(
    api: httpx.Client, control: httpx.Client, receiver: WebhookReceiver
) -> None:
    key = new_key()
    path = hook(api, receiver, key)

    answer = control.post("/sim/pix", json={"valor": "7.00", "chave": key, "infoPagador": "sem pedido"})

    assert answer.status_code == 201
    [pix] = answer.json()["pix"]
    assert "txid" not in pix and pix["infoPagador"] == "sem pedido"
    assert receiver.wait_for(path)[0].body == {"pix": [pix]}
    without_txid = api.get("/v2/pix", params=window() | {"txIdPresente": "false"}).json()["pix"]
    assert pix in without_txid


def test_paying_a_static_brcode_sends_its_txid_and_amount_to_its_key(
    api: httpx.Client, control: httpx.Client, receiver: WebhookReceiver
) -> None:
    key = new_key()
    path = hook(api, receiver, key)
    # A static code as the checkout itself prints one.
    code = build_brcode(Merchant(key, "Loja Exemplo", "SAO PAULO"), "pedido42", Decimal("42.50"))

    answer = control.post("/sim/pay-code", json={"pixCopiaECola": code})

    assert answer.status_code == 201
    [pix] = answer.json()["pix"]
    assert (pix["txid"], pix["valor"], pix["chave"]) == ("pedido42", "42.50", key)
    assert receiver.wait_for(path)[0].body == {"pix": [pix]}


def test_paying_a_dynamic_brcode_pays_its_charge(
    api: httpx.Client, control: httpx.Client, receiver: WebhookReceiver
) -> None:
    key = new_key()
    path = hook(api, receiver, key)
    cob = create_charge(api, key, valor="18.00")

    answer = control.post("/sim/pay-code", json={"pixCopiaECola": cob["pixCopiaECola"]})

    assert answer.status_code == 201
    assert receiver.wait_for(path)[0].body["pix"][0]["txid"] == cob["txid"]
    assert api.get(f"/v2/cob/{cob['txid']}").json()["status"] == "CONCLUIDA"


def test_paying_a_code_with_a_broken_crc_is_refused(api: httpx.Client, control: httpx.Client) -> None:
    code = create_charge(api, new_key())["pixCopiaECola"]
    broken = code[:-4] + ("0000" if code[-4:] != "0000" else "FFFF")

    problem(control.post("/sim/pay-code", json={"pixCopiaECola": broken}), 400, "RequisicaoInvalida")


def test_refund_is_idempotent_capped_at_the_pix_value_and_settles_with_a_new_webhook(
    api: httpx.Client, control: httpx.Client, receiver: WebhookReceiver
) -> None:
    key = new_key()
    path = hook(api, receiver, key)
    [pix] = pay(control, create_charge(api, key, valor="15.00")["txid"])
    refunds = f"/v2/pix/{pix['endToEndId']}/devolucao"

    created = api.put(f"{refunds}/r1", json={"valor": "5.00", "descricao": "Item em falta"})
    again = api.put(f"{refunds}/r1", json={"valor": "5.00", "descricao": "Item em falta"})
    changed = api.put(f"{refunds}/r1", json={"valor": "6.00"})
    too_much = api.put(f"{refunds}/r2", json={"valor": "10.01"})
    rest = api.put(f"{refunds}/r3", json={"valor": "10.00"})

    assert created.status_code == 201
    refund = created.json()
    assert refund["status"] == "EM_PROCESSAMENTO" and RETURN_ID.fullmatch(refund["rtrId"])
    assert (refund["id"], refund["valor"], refund["natureza"]) == ("r1", "5.00", "ORIGINAL")
    assert again.status_code == 200 and again.json()["rtrId"] == refund["rtrId"]
    problem(changed, 400, "PixDevolucaoInvalida")
    problem(too_much, 400, "PixDevolucaoInvalida")
    assert rest.status_code == 201
    *_, last = receiver.wait_for(path, count=3)
    settled = api.get(f"/v2/pix/{pix['endToEndId']}").json()
    assert [(r["id"], r["status"]) for r in settled["devolucoes"]] == [("r1", "DEVOLVIDO"), ("r3", "DEVOLVIDO")]
    assert all(HORARIO.fullmatch(r["horario"]["liquidacao"]) for r in settled["devolucoes"])
    assert last.body == {"pix": [settled]}
    assert api.get(f"{refunds}/r1").json()["status"] == "DEVOLVIDO"
    problem(api.get(f"{refunds}/r2"), 404, "PixDevolucaoNaoEncontrada")


def test_amounts_in_other_scripts_digits_are_refused_as_the_api_pix_schema_does(
    api: httpx.Client, control: httpx.Client
) -> None:
    problem(control.post("/sim/pix", json={"valor": "٢٠.٠٠", "chave": new_key()}), 400, "RequisicaoInvalida")
    [pix] = pay(control, create_charge(api, new_key(), valor="15.00")["txid"])
    refund = api.put(f"/v2/pix/{pix['endToEndId']}/devolucao/r1", json={"valor": "٥.٠٠"})
    problem(refund, 400, "PixDevolucaoInvalida")


def test_refund_of_an_unknown_pix_is_404(api: httpx.Client) -> None:
    problem(api.put(f"/v2/pix/E{'1' * 31}/devolucao/r1", json={"valor": "1.00"}), 404, "PixNaoEncontrado")


def test_refund_after_fail_next_ends_nao_realizado_and_gives_nothing_back(
    api: httpx.Client, control: httpx.Client, receiver: WebhookReceiver
) -> None:
    key = new_key()
    path = hook(api, receiver, key)
    [pix] = pay(control, create_charge(api, key, valor="15.00")["txid"])
    refund_url = f"/v2/pix/{pix['endToEndId']}/devolucao/falha1"

    assert control.post("/sim/refunds/fail-next").status_code == 200
    assert api.put(refund_url, json={"valor": "15.00"}).status_code == 201

    failed = eventually(lambda: (r := api.get(refund_url).json())["status"] != "EM_PROCESSAMENTO" and r)
    assert failed["status"] == "NAO_REALIZADO" and failed["motivo"] and "liquidacao" not in failed["horario"]
    notice = receiver.wait_for(path, count=2)[1]
    assert notice.body["pix"][0]["devolucoes"][0]["status"] == "NAO_REALIZADO"
    assert api.put(f"/v2/pix/{pix['endToEndId']}/devolucao/segunda", json={"valor": "15.00"}).status_code == 201


def test_outage_answers_503_to_the_token_and_the_api_until_switched_off(
    api: httpx.Client, control: httpx.Client
) -> None:
    assert control.post("/sim/outage", json={"on": True}).json() == {"outage": True}
    try:
        token = control.post("/oauth/token", auth=CLIENT, data={"grant_type": "client_credentials"})
        problem(token, 503, "ServicoIndisponivel")
        problem(api.post("/v2/cob", json={"valor": {"original": "1.00"}, "chave": "k"}), 503, "ServicoIndisponivel")
    finally:
        control.post("/sim/outage", json={"on": False})

    assert api.post("/v2/cob", json={"valor": {"original": "1.00"}, "chave": "k"}).status_code == 201


def test_webhook_answering_500_is_retried_with_backoff_until_it_accepts(
    api: httpx.Client, control: httpx.Client, receiver: WebhookReceiver
) -> None:
    key = new_key()
    path = hook(api, receiver, key)
    receiver.statuses[path] = [500, 500]

    [pix] = pay(control, create_charge(api, key)["txid"])

    first, second, third = receiver.wait_for(path, count=3)
    assert first.body == second.body == third.body == {"pix": [pix]}
    assert second.at - first.at >= 0.4 and third.at - second.at >= 0.9
    log = eventually(lambda: (found := deliveries_of(control, pix["endToEndId"])) and len(found) == 3 and found)
    assert [(d["attempt"], d["status"], d["delivered"]) for d in log] == [
        (1, 500, False),
        (2, 500, False),
        (3, 200, True),
    ]
    assert all(d["url"] == receiver.url + path for d in log)


def test_unreachable_webhook_is_tried_five_times_then_dropped(api: httpx.Client, control: httpx.Client) -> None:
    key = new_key()
    api.put(f"/v2/webhook/{key}", json={"webhookUrl": f"http://127.0.0.1:{free_port()}/fora-do-ar"})

    [pix] = pay(control, create_charge(api, key)["txid"])

    log = eventually(lambda: (found := deliveries_of(control, pix["endToEndId"])) and len(found) == 5 and found)
    assert [d["attempt"] for d in log] == [1, 2, 3, 4, 5]
    assert all(d["status"] is None and d["error"] for d in log)
    time.sleep(1)
    assert len(deliveries_of(control, pix["endToEndId"])) == 5


def test_webhook_is_called_over_mutual_tls_with_the_simulators_client_certificate(
    api: httpx.Client, control: httpx.Client, tls_receiver: WebhookReceiver, pki: Pki
) -> None:
    key = new_key()
    path = hook(api, tls_receiver, key)

    [pix] = pay(control, create_charge(api, key)["txid"])

    [notice] = tls_receiver.wait_for(path)
    assert notice.body == {"pix": [pix]}
    assert ("DNS", "psp.example") in notice.client_certificate["subjectAltName"]
    refused_before = tls_receiver.refused_connections
    without_certificate = ssl.create_default_context(cafile=str(pki.server_ca))
    with pytest.raises(httpx.TransportError):
        httpx.post(tls_receiver.url + path, json={"pix": []}, verify=without_certificate, trust_env=False)
    assert len(tls_receiver.at(path)) == 1
    eventually(lambda: tls_receiver.refused_connections > refused_before)


def test_webhook_url_gets_pix_appended_literally_so_ignorar_swallows_it(
    api: httpx.Client, control: httpx.Client, receiver: WebhookReceiver
) -> None:
    key = new_key()
    path = hook(api, receiver, key, suffix="?ignorar=")

    pay(control, create_charge(api, key)["txid"])

    assert path.endswith("?ignorar=/pix")
    assert receiver.wait_for(path)


def test_webhook_registration_can_be_read_listed_and_deleted(
    api: httpx.Client, control: httpx.Client, receiver: WebhookReceiver
) -> None:
    key = new_key()
    url = f"{receiver.url}/shop/{uuid4().hex}"
    assert api.put(f"/v2/webhook/{key}", json={"webhookUrl": url}).status_code == 200

    shown = api.get(f"/v2/webhook/{key}").json()
    listed = api.get("/v2/webhook").json()["webhooks"]
    deleted = api.delete(f"/v2/webhook/{key}")

    assert shown["webhookUrl"] == url and shown["chave"] == key and HORARIO.fullmatch(shown["criacao"])
    assert shown in listed
    assert deleted.status_code == 204
    problem(api.get(f"/v2/webhook/{key}"), 404, "WebhookNaoEncontrado")
    [pix] = pay(control, create_charge(api, key)["txid"])
    [attempt] = eventually(lambda: deliveries_of(control, pix["endToEndId"]))
    assert attempt["url"] is None and "no webhook" in attempt["error"]


@pytest.mark.parametrize("url", ["ftp://shop.example/hook", "shop.example/hook", 42, "http://"])
def test_webhook_registration_with_a_bad_url_is_refused(api: httpx.Client, url: Any) -> None:
    problem(api.put(f"/v2/webhook/{new_key()}", json={"webhookUrl": url}), 400, "WebhookOperacaoInvalida")


def test_webhook_preregistered_in_sim_webhook_urls_works_without_a_registration_call(
    api: httpx.Client, control: httpx.Client, receiver: WebhookReceiver
) -> None:
    assert api.get(f"/v2/webhook/{PRESET_KEY}").json()["webhookUrl"] == f"{receiver.url}/preset"

    answer = control.post("/sim/pix", json={"valor": "3.00", "chave": PRESET_KEY, "txid": "avulso1"})

    assert receiver.wait_for("/preset/pix")[0].body == answer.json()


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/sim/cob/{txid}/pay", {"valor": 10.5}, 400),
        ("/sim/cob/{txid}/pay", {"valor": "0.00"}, 400),
        ("/sim/cob/{txid}/pay", {"copies": 0}, 400),
        ("/sim/cob/{txid}/pay", {"times": "2"}, 400),
        ("/sim/cob/{txid}/pay", {"horario": "ontem"}, 400),
        ("/sim/cob/{txid}/pay", {"horario": "2026-01-01T10:00:00"}, 400),
        ("/sim/cob/{txid}/pay", {"deliver": "no"}, 400),
        ("/sim/cob/{txid}/pay", [], 400),
        ("/sim/cob/semcobranca/pay", {}, 404),
        ("/sim/pix", {"valor": "1.00"}, 400),
        ("/sim/pix", {"valor": "1.00", "chave": "k", "txid": "not valid!"}, 400),
        ("/sim/pay-code", {"pixCopiaECola": "garbage"}, 400),
        ("/sim/pay-code", {}, 400),
        ("/sim/outage", {"on": "yes"}, 400),
    ],
)
def test_control_api_answers_bad_input_with_a_4xx_problem(
    api: httpx.Client, control: httpx.Client, path: str, body: Any, status: int
) -> None:
    txid = create_charge(api, new_key())["txid"]

    answer = control.post(path.format(txid=txid), json=body)

    problem(answer, status, "RequisicaoInvalida" if status == 400 else "CobNaoEncontrado")
    assert api.get(f"/v2/cob/{txid}").json()["pix"] == []


def test_unknown_routes_wrong_methods_and_huge_bodies_are_problems_too(api: httpx.Client) -> None:
    problem(api.get("/v2/nada"), 404, "NaoEncontrado")
    problem(api.delete(f"/v2/cob/{uuid4().hex}"), 405, "RequisicaoInvalida")
    problem(api.put(f"/v2/cob/{uuid4().hex}", content=b"x" * 70_000), 413, "RequisicaoInvalida")


def test_page_shows_the_charges_in_portuguese_with_a_button_for_each_way_to_pay(
    api: httpx.Client, control: httpx.Client
) -> None:
    cob = create_charge(api, new_key(), valor="1500.00")

    page = control.get("/")

    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    html = page.text
    assert 'lang="pt-BR"' in html and "Simulador de PSP (API Pix)" in html
    assert cob["txid"] in html and "R$ 1.500,00" in html
    for label in (
        "Pagar um código Pix Copia e Cola",
        "Pagar valor exato",
        "Pagar outro valor",
        "Pagar após expirar",
        "Pagar duas vezes",
        "Pagar sem avisar o webhook",
        "Simular indisponibilidade",
    ):
        assert label in html
    assert "<script" not in html and "style=" not in html
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert control.get("/static/simulator.css").status_code == 200


@pytest.mark.parametrize(
    ("mode", "typed", "status", "paid"),
    [
        ("exato", "", "CONCLUIDA", ["15.00"]),
        ("outro", "12,50", "ATIVA", ["12.50"]),
        ("expirado", "", "ATIVA", ["15.00"]),
        ("duas-vezes", "", "CONCLUIDA", ["15.00", "15.00"]),
        ("sem-webhook", "", "CONCLUIDA", ["15.00"]),
    ],
)
def test_page_buttons_pay_the_charge_and_come_back_to_the_page(
    api: httpx.Client,
    control: httpx.Client,
    receiver: WebhookReceiver,
    mode: str,
    typed: str,
    status: str,
    paid: list[str],
) -> None:
    key = new_key()
    path = hook(api, receiver, key)
    cob = create_charge(api, key)

    answer = control.post(f"/sim/ui/cob/{cob['txid']}/pay", data={"modo": mode, "valor": typed})

    assert answer.status_code == 303 and answer.headers["Location"] == "/"
    charge = api.get(f"/v2/cob/{cob['txid']}").json()
    assert charge["status"] == status and [pix["valor"] for pix in charge["pix"]] == paid
    if mode == "expirado":
        deadline = datetime.fromisoformat(charge["calendario"]["criacao"]) + timedelta(seconds=3600)
        assert datetime.fromisoformat(charge["pix"][0]["horario"]) == deadline + timedelta(minutes=1)
    if mode == "sem-webhook":
        time.sleep(0.3)
        assert receiver.at(path) == []
    else:
        assert receiver.wait_for(path, count=len(paid))


def test_page_refund_button_gives_back_the_whole_pix(api: httpx.Client, control: httpx.Client) -> None:
    [pix] = pay(control, create_charge(api, new_key(), valor="15.00")["txid"], deliver=False)

    answer = control.post(f"/sim/ui/pix/{pix['endToEndId']}/refund")

    assert answer.status_code == 303
    [refund] = api.get(f"/v2/pix/{pix['endToEndId']}").json()["devolucoes"]
    assert refund["valor"] == "15.00"
    assert "Devolução de R$ 15,00 solicitada." in control.get("/").text


def test_page_pay_code_form_pays_and_reports_a_bad_code(api: httpx.Client, control: httpx.Client) -> None:
    cob = create_charge(api, new_key())

    paid = control.post("/sim/ui/pay-code", data={"pixCopiaECola": cob["pixCopiaECola"], "valor": ""})
    refused = control.post("/sim/ui/pay-code", data={"pixCopiaECola": "000201 nada disso", "valor": ""})

    assert paid.status_code == refused.status_code == 303
    assert api.get(f"/v2/cob/{cob['txid']}").json()["status"] == "CONCLUIDA"
    assert "Não foi possível pagar" in control.get("/").text


def test_api_pix_over_mutual_tls_needs_a_client_certificate_from_the_trusted_ca(tmp_path: Path, pki: Pki) -> None:
    def client(certificate: Path | None) -> httpx.Client:
        context = ssl.create_default_context(cafile=str(pki.server_ca))
        if certificate:
            context.load_cert_chain(certificate)
        return httpx.Client(base_url=mtls.url, verify=context, timeout=10, trust_env=False)

    mtls = SimulatorProcess(
        tmp_path,
        client=lambda: client(pki.psp_client),
        SIM_TLS_CERT=str(pki.server_cert),
        SIM_TLS_KEY=str(pki.server_key),
        SIM_TLS_CLIENT_CA=str(pki.psp_ca),
    )
    mtls.start()
    try:
        with client(pki.psp_client) as shop:
            token = shop.post("/oauth/token", auth=CLIENT, data={"grant_type": "client_credentials"})
            assert token.status_code == 200
            cob = shop.post(
                "/v2/cob",
                json={"valor": {"original": "5.00"}, "chave": new_key()},
                headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            ).json()
            assert cob["location"].startswith(f"127.0.0.1:{mtls.port}/qr/v2/")
        with client(pki.stranger_client) as stranger, pytest.raises(httpx.TransportError):
            stranger.post("/oauth/token", auth=CLIENT, data={"grant_type": "client_credentials"})
        with client(None) as browser:  # the page needs no certificate; the API does
            assert browser.get("/").status_code == 200
            refused = browser.post("/oauth/token", auth=CLIENT, data={"grant_type": "client_credentials"})
            assert refused.status_code == 401
            assert refused.json()["type"].endswith("/AcessoNegado")
            assert browser.get("/v2/cob").status_code == 401
    finally:
        mtls.stop()


def test_reset_forgets_everything_but_the_preregistered_webhook(api: httpx.Client, control: httpx.Client) -> None:
    pay(control, create_charge(api, new_key())["txid"])

    assert control.post("/sim/reset").status_code == 204

    state = control.get("/sim/state").json()
    assert state["charges"] == state["pix"] == state["refunds"] == state["deliveries"] == []
    assert [webhook["chave"] for webhook in state["webhooks"]] == [PRESET_KEY]


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"SIM_PORT": "cinco mil"}, "SIM_PORT"),
        ({"SIM_MERCHANT_NAME": "Uma Loja Com Nome Longo Demais"}, "SIM_MERCHANT_NAME"),
        ({"SIM_TLS_CLIENT_CA": __file__}, "SIM_TLS_CLIENT_CA"),
        ({"SIM_WEBHOOK_URLS": "loja@example.com=ftp://x"}, "SIM_WEBHOOK_URLS"),
    ],
)
def test_a_wrong_setting_stops_the_simulator_with_a_message_naming_it(settings: dict[str, str], named: str) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("SIM_")} | settings

    result = subprocess.run(
        [sys.executable, "-m", "psp_simulator"], cwd=REPO_ROOT, env=env, capture_output=True, timeout=30
    )

    assert result.returncode == 2
    assert named in result.stderr.decode() and "Traceback" not in result.stderr.decode()


def test_the_development_certificates_make_a_working_mutual_tls_pair(tmp_path: Path) -> None:
    make_dev_tls(tmp_path)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(tmp_path / "ca.pem"))
    server.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    server.verify_mode = ssl.CERT_REQUIRED
    client = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    client.load_cert_chain(tmp_path / "client.pem")
    seen: list[dict] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def accept() -> None:
            connection, _ = listener.accept()
            with server.wrap_socket(connection, server_side=True) as tls:
                seen.append(tls.getpeercert())

        thread = threading.Thread(target=accept)
        thread.start()
        with (
            socket.create_connection(listener.getsockname()) as raw,
            client.wrap_socket(raw, server_hostname="localhost"),
        ):
            pass
        thread.join(timeout=10)
    assert seen and dict(seen[0]["subject"][0])["commonName"] == "pix-checkout development"
    before = (tmp_path / "client.pem").read_bytes()
    make_dev_tls(tmp_path)  # a second run keeps what the first made
    assert (tmp_path / "client.pem").read_bytes() == before
