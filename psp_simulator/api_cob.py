"""API Pix immediate charges: PUT/POST/PATCH/GET /v2/cob."""

from typing import Any

from flask import Blueprint, Response, jsonify, request

from psp_simulator.api_json import charge_json, pix_json
from psp_simulator.cob_input import INVALID, read_new_charge, read_revision
from psp_simulator.formats import CHARGE_TXID, new_txid, now_utc
from psp_simulator.problems import PixApiError, Violation
from psp_simulator.records import Charge, ChargeStatus
from psp_simulator.request_input import json_object, read_window
from psp_simulator.services import Simulator, current_simulator

bp = Blueprint("cob", __name__, url_prefix="/cob")

NOT_FOUND_DETAIL = "Cobrança não encontrada para o txid informado."


def _complete(sim: Simulator, charge: Charge) -> dict[str, Any]:
    pix = [pix_json(p, sim.store.refunds_of(p.end_to_end_id)) for p in sim.store.pix_of_charge(charge)]
    return charge_json(charge, sim.settings, pix)


def _created(sim: Simulator, txid: str) -> Response:
    terms = read_new_charge(json_object(INVALID))
    charge = sim.store.create_charge(txid, terms, now_utc(), sim.settings.location_prefix)
    if charge is None:
        reason = f"O txid {txid} já foi utilizado por outra cobrança."
        raise PixApiError(400, INVALID, reason, [Violation("cob.txid", reason)])
    response = jsonify(charge_json(charge, sim.settings))
    response.status_code = 201
    return response


@bp.put("/<txid>")
def create_charge(txid: str) -> Response:
    """Create a charge with the txid the shop chose (26 to 35 letters and digits)."""
    if not CHARGE_TXID.fullmatch(txid):
        reason = "O txid deve ter de 26 a 35 letras e dígitos."
        raise PixApiError(400, INVALID, reason, [Violation("cob.txid", reason)])
    return _created(current_simulator(), txid)


@bp.post("")
def create_charge_with_our_txid() -> Response:
    """Create a charge whose txid the PSP picks."""
    return _created(current_simulator(), new_txid())


@bp.get("/<txid>")
def show_charge(txid: str) -> Response:
    """The charge (CobCompleta) with the Pix received for it."""
    sim = current_simulator()
    charge = sim.store.charge(txid)
    if charge is None:
        raise PixApiError(404, "CobNaoEncontrado", NOT_FOUND_DETAIL)
    return jsonify(_complete(sim, charge))


@bp.patch("/<txid>")
def revise_charge(txid: str) -> Response:
    """Revise an ATIVA charge (revisao + 1), or remove it with status REMOVIDA_PELO_USUARIO_RECEBEDOR alone."""
    sim = current_simulator()
    charge = sim.store.charge(txid)
    if charge is None:
        raise PixApiError(404, "CobNaoEncontrado", NOT_FOUND_DETAIL)
    changes, remove = read_revision(json_object(INVALID))
    revised = sim.store.revise_charge(txid, changes, remove)
    if revised is None:
        detail = "Cobrança não encontra-se mais com o status ATIVA, somente cobranças ativas podem ser revisadas."
        raise PixApiError(400, INVALID, detail)
    return jsonify(charge_json(revised, sim.settings))


@bp.get("")
def list_charges() -> Response:
    """The charges created between inicio and fim, optionally with one status, a page at a time."""
    window, violations = read_window("CobConsultaInvalida")
    status = request.args.get("status")
    if status is not None and status not in {s.value for s in ChargeStatus}:
        violations.add("status", "O parâmetro status não é um status de cobrança.")
    violations.raise_if_any("CobConsultaInvalida", "Os parâmetros da consulta de cobranças não respeitam o _schema_.")
    sim = current_simulator()
    charges = [
        charge
        for charge in sim.store.charges()
        if window.contains(charge.created_at) and (status is None or charge.status == status)
    ]
    cobs = [_complete(sim, charge) for charge in window.page_of(charges)]
    return jsonify(parametros=window.parameters(len(charges)), cobs=cobs)
