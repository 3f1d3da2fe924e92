"""The API Pix client against a scripted PSP: tokens, retries, lost answers, and errors that say what happened."""

import contextlib
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pix.api_pix import InvalidPixItemError
from pix.psp_client import ApiPixClient, Charge, PspError, PspSettings

SETTINGS = PspSettings(
    api_url="https://psp.test", token_url="https://psp.test/oauth/token", client_id="id", client_secret="s"
)
CHARGE = {"txid": "T" * 32, "status": "ATIVA", "pixCopiaECola": "000201...", "valor": {"original": "10.50"}}
PIX = {"endToEndId": "E" + "1" * 31, "txid": "T" * 32, "valor": "10.50", "horario": "2026-12-01T10:00:00.000Z"}


class Psp:
    """A scripted PSP: each path answers from a queue of (status, body); calls are recorded."""

    def __init__(self) -> None:
        self.answers: dict[str, list[tuple[int, object]]] = {}
        self.calls: list[tuple[str, str, str | None]] = []
        self.tokens = 0

    def script(self, method: str, path: str, *answers: tuple[int, object]) -> None:
        self.answers[f"{method} {path}"] = list(answers)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            self.tokens += 1
            return httpx.Response(200, json={"access_token": f"token-{self.tokens}", "expires_in": 3600})
        self.calls.append((request.method, request.url.path, request.headers.get("Authorization")))
        queue = self.answers.get(f"{request.method} {request.url.path}", [])
        status, body = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(body, Exception):
            raise body
        return httpx.Response(status, json=body)


@pytest.fixture
def psp(monkeypatch: pytest.MonkeyPatch) -> Psp:
    monkeypatch.setattr("pix.psp_client.RETRY_PAUSES", (0, 0))
    return Psp()


@pytest.fixture
def client(psp: Psp) -> ApiPixClient:
    return ApiPixClient(SETTINGS, transport=httpx.MockTransport(psp.handle))


def test_a_charge_is_created_with_the_api_pix_body(psp: Psp, client: ApiPixClient) -> None:
    seen: list[dict] = []
    original = psp.handle

    def record(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            seen.append(json.loads(request.content))
        return original(request)

    client = ApiPixClient(SETTINGS, transport=httpx.MockTransport(record))
    psp.script("PUT", f"/v2/cob/{'T' * 32}", (201, CHARGE))
    charge = client.create_charge("T" * 32, Decimal("10.50"), 1800, "chave@example.com", "Pedido 7")
    assert (charge.status, charge.pix_copy_paste) == ("ATIVA", "000201...")
    assert seen == [
        {
            "calendario": {"expiracao": 1800},
            "valor": {"original": "10.50"},
            "chave": "chave@example.com",
            "solicitacaoPagador": "Pedido 7",
        }
    ]


def test_the_token_is_fetched_once_and_renewed_when_refused(psp: Psp, client: ApiPixClient) -> None:
    psp.script("GET", f"/v2/cob/{'T' * 32}", (200, CHARGE), (200, CHARGE), (401, {}), (200, CHARGE))
    for _ in range(3):
        client.charge("T" * 32)
    assert psp.tokens == 2
    assert [auth for _, _, auth in psp.calls] == [
        "Bearer token-1",
        "Bearer token-1",
        "Bearer token-1",
        "Bearer token-2",
    ]


@pytest.mark.parametrize(
    "trouble", [(503, {"title": "Serviço indisponível"}), (502, {}), (429, {}), (0, httpx.ConnectTimeout("slow"))]
)
def test_an_unavailable_psp_is_tried_again(psp: Psp, client: ApiPixClient, trouble: tuple) -> None:
    psp.script("GET", f"/v2/cob/{'T' * 32}", trouble, (200, CHARGE))
    assert client.charge("T" * 32).status == "ATIVA"


def test_a_psp_down_for_good_is_an_unavailable_error(psp: Psp, client: ApiPixClient) -> None:
    psp.script("GET", f"/v2/cob/{'T' * 32}", (503, {"detail": "manutenção programada"}))
    with pytest.raises(PspError) as error:
        client.charge("T" * 32)
    assert error.value.unavailable
    assert "manutenção programada" in str(error.value)
    assert len(psp.calls) == 3


def test_a_refusal_is_not_retried(psp: Psp, client: ApiPixClient) -> None:
    psp.script("GET", f"/v2/cob/{'T' * 32}", (404, {"title": "Não encontrado"}))
    with pytest.raises(PspError) as error:
        client.charge("T" * 32)
    assert (error.value.status, error.value.unavailable, len(psp.calls)) == (404, False, 1)


def test_a_lost_answer_to_a_charge_finds_the_charge_already_made(psp: Psp, client: ApiPixClient) -> None:
    # The first PUT created the charge but its answer was lost; the retry says the txid is taken.
    psp.script("PUT", f"/v2/cob/{'T' * 32}", (0, httpx.ReadTimeout("lost")), (400, {"detail": "txid em uso"}))
    psp.script("GET", f"/v2/cob/{'T' * 32}", (200, CHARGE))
    assert client.create_charge("T" * 32, Decimal("10.50"), 60, "k", None).txid == "T" * 32


@pytest.mark.parametrize(
    ("calendario", "deadline"),
    [
        ({"criacao": "2026-12-01T10:00:00-03:00", "expiracao": 1800}, datetime(2026, 12, 1, 13, 30, tzinfo=UTC)),
        ({"criacao": "yesterday", "expiracao": 60}, None),
        ({"criacao": "0001-01-01T00:00:00Z", "expiracao": 60}, None),
        ({"criacao": "2026-12-01T13:00:00Z", "expiracao": 2**40}, None),
        ({"criacao": "2026-12-01T13:00:00Z", "expiracao": True}, None),
        ({"expiracao": 60}, None),
    ],
)
def test_a_charges_deadline_is_the_psps_own_where_its_calendario_gives_one(
    psp: Psp, client: ApiPixClient, calendario: dict, deadline: datetime | None
) -> None:
    psp.script("GET", f"/v2/cob/{'T' * 32}", (200, CHARGE | {"calendario": calendario}))
    assert client.charge("T" * 32).deadline == deadline


def test_a_charge_is_closed_unpaid_once_past_the_psps_deadline_unless_it_was_paid() -> None:
    deadline, second = datetime(2026, 12, 1, 13, 30, tzinfo=UTC), timedelta(seconds=1)
    active = Charge("T" * 32, "ATIVA", "000201...", [], deadline=deadline)
    assert (active.closed_unpaid(deadline - second), active.closed_unpaid(deadline)) == (False, True)
    assert Charge("T" * 32, "REMOVIDA_PELO_PSP", "", [], deadline=deadline).closed_unpaid(deadline)
    assert not Charge("T" * 32, "CONCLUIDA", "", [], deadline=deadline).closed_unpaid(deadline + second)
    assert Charge("T" * 32, "ATIVA", "", []).closed_unpaid(deadline)  # no deadline of its own: ours judged


def test_a_taken_txid_with_another_amount_stays_an_error(psp: Psp, client: ApiPixClient) -> None:
    psp.script("PUT", f"/v2/cob/{'T' * 32}", (400, {"detail": "txid em uso"}))
    psp.script("GET", f"/v2/cob/{'T' * 32}", (200, CHARGE))
    with pytest.raises(PspError, match="txid em uso"):
        client.create_charge("T" * 32, Decimal("99.00"), 60, "k", None)


@pytest.mark.parametrize("body", [["not", "an", "object"], {"txid": 5}, {"pix": [{"valor": 10}], **CHARGE}])
def test_a_psp_answer_out_of_shape_is_an_error_not_a_crash(psp: Psp, client: ApiPixClient, body: object) -> None:
    psp.script("GET", f"/v2/cob/{'T' * 32}", (200, body))
    with pytest.raises(PspError):
        client.charge("T" * 32)


def test_a_refund_state_the_api_pix_does_not_have_is_an_error(psp: Psp, client: ApiPixClient) -> None:
    answer = {"id": "R1", "rtrId": "D" + "9" * 31, "valor": "1.00", "status": "PENDENTE"}
    psp.script("GET", f"/v2/pix/{'E' * 32}/devolucao/R1", (200, answer))
    with pytest.raises(PspError, match="status"):  # stored, it would stay in flight for ever
        client.refund_state("E" * 32, "R1")


def test_received_pix_are_read_page_by_page(psp: Psp, client: ApiPixClient) -> None:
    def pages(n: int) -> dict:
        return {"parametros": {"paginacao": {"quantidadeDePaginas": 2}}, "pix": [PIX] * n}

    psp.script("GET", "/v2/pix", (200, pages(2)), (200, pages(1) | {"pix": [PIX, {"valor": "x"}]}))
    found = list(client.received_pix(datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC)))
    assert [type(item).__name__ for item in found] == ["ReceivedPix"] * 3 + [InvalidPixItemError.__name__]
    assert found[0].value == Decimal("10.50")


# Any JSON a PSP (or something pretending to be one) may answer, shaped like the API Pix's objects or not at all.
json_answers = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=3),
    max_leaves=8,
)
api_pix_like = st.fixed_dictionaries(
    {},
    optional={
        "txid": json_answers | st.just("T" * 32),
        "status": json_answers | st.just("ATIVA"),
        "pixCopiaECola": json_answers,
        "valor": json_answers | st.just({"original": "10.50"}),
        "pix": json_answers | st.lists(json_answers | st.just(PIX), max_size=2),
        "parametros": json_answers | st.fixed_dictionaries({"paginacao": json_answers}),
        "id": json_answers,
        "calendario": json_answers
        | st.fixed_dictionaries(
            {},
            optional={
                "criacao": json_answers | st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat),
                "expiracao": json_answers | st.integers(),
            },
        ),
    },
)


CALLS = {
    "create_charge": lambda client: client.create_charge("T" * 32, Decimal("10.50"), 60, "k", None),
    "charge": lambda client: client.charge("T" * 32),
    "received_pix": lambda client: list(
        client.received_pix(datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC))
    ),
    "refund": lambda client: client.refund("E" * 32, "R1", Decimal("1.00"), None),
    "refund_state": lambda client: client.refund_state("E" * 32, "R1"),
}


@pytest.mark.parametrize("call", CALLS)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(status=st.sampled_from([200, 201, 400, 404, 429, 500]), body=json_answers | api_pix_like, lookup=api_pix_like)
def test_whatever_the_psp_answers_a_call_ends_in_a_result_or_a_psp_error(
    psp: Psp, client: ApiPixClient, call: str, status: int, body: object, lookup: object
) -> None:
    psp.script("PUT", f"/v2/cob/{'T' * 32}", (status, body))
    psp.script("GET", f"/v2/cob/{'T' * 32}", (200, lookup) if call == "create_charge" else (status, body))
    for path in ("/v2/pix", f"/v2/pix/{'E' * 32}/devolucao/R1"):
        psp.script("GET", path, (status, body))
        psp.script("PUT", path, (status, body))
    with contextlib.suppress(PspError):  # what every caller handles: anything else is a 500 or a stopped job
        result = CALLS[call](client)
        if isinstance(result, Charge):
            result.closed_unpaid(datetime.now(UTC))  # reconciliation's question of it answers, whatever it held
