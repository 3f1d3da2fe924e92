"""API Pix received Pix and refunds: GET /v2/pix, GET /v2/pix/{e2eid}, PUT/GET /v2/pix/{e2eid}/devolucao/{id}."""

from flask import Blueprint, Response, jsonify, request

from psp_simulator.api_json import pix_json, refund_json
from psp_simulator.formats import PIX_TXID, REFUND_ID, clean_text, parse_money
from psp_simulator.payments import request_refund
from psp_simulator.problems import PixApiError, Violations
from psp_simulator.records import ReceivedPix, RefundRequest
from psp_simulator.request_input import flag, json_object, read_window
from psp_simulator.services import current_simulator
from psp_simulator.store import RefundOutcome

bp = Blueprint("pix", __name__, url_prefix="/pix")

INVALID_REFUND = "PixDevolucaoInvalida"
INVALID_REFUND_DETAIL = "A requisição de devolução não respeita o _schema_ ou não faz sentido semanticamente."
NATURES = ("ORIGINAL", "RETIRADA")
REFUSALS = {
    RefundOutcome.ID_TAKEN: "O id {id} já foi usado por outra devolução deste Pix, com outros dados.",
    RefundOutcome.EXCEEDS_PIX: "A devolução, somada às anteriores, excederia o valor do Pix.",
    RefundOutcome.WINDOW_CLOSED: "O prazo de 90 dias para devolver este Pix terminou.",
}


def _pix_or_404(end_to_end_id: str) -> ReceivedPix:
    pix = current_simulator().store.pix(end_to_end_id)
    if pix is None:
        raise PixApiError(404, "PixNaoEncontrado", "Pix não encontrado para o e2eid informado.")
    return pix


@bp.get("/<e2eid>")
def show_pix(e2eid: str) -> Response:
    """One received Pix with its refunds."""
    pix = _pix_or_404(e2eid)
    return jsonify(pix_json(pix, current_simulator().store.refunds_of(e2eid)))


@bp.get("")
def list_pix() -> Response:
    """The Pix received between inicio and fim, filtered by txid, txIdPresente or devolucaoPresente."""
    window, violations = read_window("PixConsultaInvalida")
    txid = request.args.get("txid")
    if txid is not None and not PIX_TXID.fullmatch(txid):
        violations.add("txid", "O parâmetro txid deve ter de 1 a 35 letras e dígitos.")
    has_txid, has_refund = flag("txIdPresente", violations), flag("devolucaoPresente", violations)
    violations.raise_if_any("PixConsultaInvalida", "Os parâmetros da consulta de Pix não respeitam o _schema_.")
    store = current_simulator().store
    found = [
        pix_json(pix, store.refunds_of(pix.end_to_end_id))
        for pix in store.all_pix()
        if window.contains(pix.paid_at)
        and (txid is None or pix.txid == txid)
        and (has_txid is None or (pix.txid is not None) == has_txid)
        and (has_refund is None or bool(store.refunds_of(pix.end_to_end_id)) == has_refund)
    ]
    return jsonify(parametros=window.parameters(len(found)), pix=window.page_of(found))


def _refund_request(refund_id: str) -> RefundRequest:
    violations = Violations()
    if not REFUND_ID.fullmatch(refund_id):
        violations.add("id", "O id da devolução deve ter de 1 a 35 letras e dígitos.")
    body = json_object(INVALID_REFUND)
    amount = parse_money(body.get("valor"))
    if amount is None or amount == 0:
        violations.add(
            "devolucao.valor", "O campo devolucao.valor não respeita o _schema_ (ex.: 10.00, maior que zero)."
        )
    nature = body.get("natureza", "ORIGINAL")
    if nature not in NATURES:
        violations.add("devolucao.natureza", "O campo devolucao.natureza deve ser ORIGINAL ou RETIRADA.")
    elif nature == "RETIRADA":
        violations.add("devolucao.natureza", "RETIRADA só vale para Pix Saque ou Troco; este é um Pix comum.")
    description = body.get("descricao")
    if description is not None and clean_text(description, 140) is None:
        violations.add("devolucao.descricao", "O campo devolucao.descricao deve ter de 1 a 140 caracteres.")
    violations.raise_if_any(INVALID_REFUND, INVALID_REFUND_DETAIL)
    return RefundRequest(amount, nature, description)


@bp.put("/<e2eid>/devolucao/<refund_id>")
def start_refund(e2eid: str, refund_id: str) -> Response:
    """Ask for money back: 201 for a new refund, 200 for the same request again, 400 when it cannot be."""
    _pix_or_404(e2eid)
    outcome, refund = request_refund(current_simulator(), e2eid, refund_id, _refund_request(refund_id))
    if outcome is RefundOutcome.PIX_NOT_FOUND:
        _pix_or_404(e2eid)
    if outcome in REFUSALS:
        raise PixApiError(400, INVALID_REFUND, REFUSALS[outcome].format(id=refund_id))
    response = jsonify(refund_json(refund))
    response.status_code = 201 if outcome is RefundOutcome.CREATED else 200
    return response


@bp.get("/<e2eid>/devolucao/<refund_id>")
def show_refund(e2eid: str, refund_id: str) -> Response:
    """Where a refund stands."""
    refund = current_simulator().store.refund(e2eid, refund_id)
    if refund is None:
        raise PixApiError(404, "PixDevolucaoNaoEncontrada", "Devolução não encontrada para o e2eid e o id informados.")
    return jsonify(refund_json(refund))
