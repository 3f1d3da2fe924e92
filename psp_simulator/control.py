"""The control API under /sim (JSON, no auth): make money arrive, flip the chaos switches, read or clear state."""

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, jsonify

from psp_simulator.api_json import charge_json, delivery_json, pix_json, refund_json, webhook_json
from psp_simulator.formats import PIX_TXID, clean_text, parse_money, parse_timestamp
from psp_simulator.payments import PaymentOrder, PaymentRefusedError, pay_charge, pay_code, receive
from psp_simulator.problems import PixApiError, Violations
from psp_simulator.records import ReceivedPix
from psp_simulator.request_input import json_object
from psp_simulator.services import Simulator, current_simulator

bp = Blueprint("control", __name__, url_prefix="/sim")

INVALID = "RequisicaoInvalida"
INVALID_DETAIL = "A requisição ao simulador não respeita o formato esperado."
MAX_REPEATS = 10
EARLIEST_PAYMENT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_PAYMENT = datetime(2999, 12, 31, tzinfo=UTC)


def _optional(body: dict[str, Any], name: str, violations: Violations, check: Callable[[Any], Any], reason: str) -> Any:
    if body.get(name) is None:
        return None
    value = check(body[name])
    if value is None:
        violations.add(name, reason)
    return value


def _repeats(value: object) -> int | None:
    return value if type(value) is int and 1 <= value <= MAX_REPEATS else None


def _boolean(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _plausible_time(value: object) -> datetime | None:
    moment = parse_timestamp(value)
    return moment if moment and EARLIEST_PAYMENT <= moment <= LATEST_PAYMENT else None


def _positive_money(value: object) -> Decimal | None:
    amount = parse_money(value)
    return amount if amount else None


def _payer_info(value: object) -> str | None:
    return clean_text(value, 140)


ORDER_FIELDS: tuple[tuple[str, str, Callable[[Any], Any], str], ...] = (
    ("amount", "valor", _positive_money, "valor deve ser um texto como 10.00, maior que zero."),
    ("paid_at", "horario", _plausible_time, "horario deve ser RFC 3339 com fuso, entre os anos 2000 e 2999."),
    ("deliver", "deliver", _boolean, "deliver deve ser true ou false."),
    ("copies", "copies", _repeats, f"copies deve ser um inteiro de 1 a {MAX_REPEATS}."),
    ("times", "times", _repeats, f"times deve ser um inteiro de 1 a {MAX_REPEATS}."),
    ("batch", "batch", _boolean, "batch deve ser true ou false."),
    ("payer_info", "infoPagador", _payer_info, "infoPagador deve ter de 1 a 140 caracteres."),
)


def read_order(body: dict[str, Any]) -> tuple[PaymentOrder, Violations]:
    """A payment order from a control request; the caller checks its own fields, then raises."""
    violations = Violations()
    found = {attr: _optional(body, name, violations, check, why) for attr, name, check, why in ORDER_FIELDS}
    return PaymentOrder(**{name: value for name, value in found.items() if value is not None}), violations


def _paid(received: list[ReceivedPix], **extra: Any) -> Response:
    response = jsonify(pix=[pix_json(pix, []) for pix in received], **extra)
    response.status_code = 201
    return response


@bp.post("/cob/<txid>/pay")
def pay(txid: str) -> Response:
    """Pay a charge: its amount now, or another amount, time, and with dropped, doubled or repeated webhooks."""
    sim = current_simulator()
    charge = sim.store.charge(txid)
    if charge is None:
        raise PixApiError(404, "CobNaoEncontrado", "Cobrança não encontrada para o txid informado.")
    order, violations = read_order(json_object(INVALID))
    violations.raise_if_any(INVALID, INVALID_DETAIL)
    received = pay_charge(sim, charge, order)
    return _paid(received, cob=_charge_state(sim, txid))


@bp.post("/pix")
def send_pix() -> Response:
    """Money to a key with any txid or none: what arrives when a buyer types the key or a bank drops the txid."""
    body = json_object(INVALID)
    order, violations = read_order(body)
    key = clean_text(body.get("chave"), 77)
    if key is None:
        violations.add("chave", "chave é obrigatória: um texto de 1 a 77 caracteres.")
    if order.amount is None:
        violations.add("valor", "valor é obrigatório: um texto como 10.00, maior que zero.")
    txid = body.get("txid")
    if txid is not None and not (isinstance(txid, str) and PIX_TXID.fullmatch(txid)):
        violations.add("txid", "txid deve ter de 1 a 35 letras e dígitos.")
    violations.raise_if_any(INVALID, INVALID_DETAIL)
    return _paid(receive(current_simulator(), key, order.amount, order, txid))


@bp.post("/pay-code")
def pay_brcode() -> Response:
    """Pay a Pix Copia e Cola, as a buyer's app would after reading the QR Code."""
    body = json_object(INVALID)
    violations = Violations()
    text = body.get("pixCopiaECola")
    if not isinstance(text, str):
        violations.add("pixCopiaECola", "pixCopiaECola é obrigatório.")
    amount = _optional(body, "valor", violations, _positive_money, ORDER_FIELDS[0][3])
    violations.raise_if_any(INVALID, INVALID_DETAIL)
    try:
        return _paid(pay_code(current_simulator(), text, amount))
    except PaymentRefusedError as error:
        raise PixApiError(400, INVALID, str(error)) from None


@bp.post("/outage")
def outage() -> Response:
    """Switch the pretended outage on or off: while on, /oauth/token and /v2 answer 503."""
    on = json_object(INVALID).get("on")
    if not isinstance(on, bool):
        raise PixApiError(400, INVALID, 'Envie {"on": true} ou {"on": false}.')
    current_simulator().store.set_outage(on)
    return jsonify(outage=on)


@bp.post("/refunds/fail-next")
def fail_next_refund() -> Response:
    """Make the next refund requested end NAO_REALIZADO instead of DEVOLVIDO."""
    current_simulator().store.arm_refund_failure()
    return jsonify(failNextRefund=True)


def _charge_state(sim: Simulator, txid: str) -> dict[str, Any] | None:
    charge = sim.store.charge(txid)
    if charge is None:
        return None
    received = sim.store.pix_of_charge(charge)
    return charge_json(charge, sim.settings, [pix_json(p, sim.store.refunds_of(p.end_to_end_id)) for p in received])


@bp.get("/state")
def state() -> Response:
    """Everything the simulator holds: charges, Pix, refunds, webhooks, deliveries and the switches."""
    sim = current_simulator()
    store = sim.store
    return jsonify(
        charges=[_charge_state(sim, charge.txid) for charge in store.charges()],
        pix=[pix_json(pix, store.refunds_of(pix.end_to_end_id)) for pix in store.all_pix()],
        refunds=[{"endToEndId": r.end_to_end_id} | refund_json(r) for r in store.all_refunds()],
        webhooks=[webhook_json(registration) for registration in sim.webhooks.registrations()],
        deliveries=[delivery_json(attempt) for attempt in sim.webhooks.deliveries()],
        outage=store.outage,
        failNextRefund=store.refund_failure_armed,
    )


@bp.post("/reset")
def reset() -> Response:
    """Forget every charge, Pix, refund and delivery (the webhooks of SIM_WEBHOOK_URLS come back)."""
    current_simulator().reset()
    return Response(status=204)
