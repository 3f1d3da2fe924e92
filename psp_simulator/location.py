"""The open location a payer's app reads (GET /qr/v2/{token}, a signed CobPayload) and the key that verifies it."""

from flask import Blueprint, Response, jsonify

from psp_simulator.api_json import cob_payload
from psp_simulator.formats import now_utc
from psp_simulator.problems import PixApiError
from psp_simulator.records import ChargeStatus
from psp_simulator.services import current_simulator

bp = Blueprint("location", __name__)


@bp.get("/qr/v2/<token>")
def serve_payload(token: str) -> Response:
    """The charge behind this location as a compact JWS; 404 once it expired or was removed."""
    sim = current_simulator()
    charge = sim.store.charge_at_location(token)
    now = now_utc()
    if charge is None or charge.status == ChargeStatus.REMOVIDA_PELO_USUARIO_RECEBEDOR or charge.is_expired(now):
        raise PixApiError(404, "CobPayloadNaoEncontrado", "A cobrança não foi encontrada para a location requisitada.")
    return Response(sim.signer.sign(cob_payload(charge, now)), mimetype="application/jose")


@bp.get("/sim/jwks")
def public_keys() -> Response:
    """The JWK set with the public key of the locations' signatures."""
    return jsonify(current_simulator().signer.jwks())
