"""OAuth2 client credentials (POST /oauth/token), the bearer check on /v2, and the pretended outage."""

import hmac

from flask import Blueprint, Response, jsonify, request

from psp_simulator.formats import now_utc
from psp_simulator.problems import PixApiError
from psp_simulator.request_input import json_or_none
from psp_simulator.services import current_simulator

bp = Blueprint("oauth", __name__)

BEARER = "Bearer"
SCOPES = "cob.write cob.read pix.read pix.write webhook.write webhook.read payloadlocation.read"
OUTAGE_DETAIL = (
    "Serviço não está disponível no momento. Serviço solicitado pode estar em manutenção "
    "ou fora da janela de funcionamento."
)


def refuse_during_outage() -> None:
    """Answer 503 ServicoIndisponivel to everything while the outage switch is on."""
    if current_simulator().store.outage:
        raise PixApiError(503, "ServicoIndisponivel", OUTAGE_DETAIL)


def require_client_certificate() -> None:
    """With SIM_TLS_CLIENT_CA, the API answers only a client that showed a certificate the CA signed (mTLS)."""
    if current_simulator().settings.tls_client_ca and not request.environ.get("SSL_CLIENT_CERT"):
        raise PixApiError(401, "AcessoNegado", "A API Pix exige o certificado do cliente (TLS mútuo).")


def require_bearer_token() -> None:
    """Let a /v2 request through only with a token from /oauth/token that has not expired."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not current_simulator().tokens.is_valid(token.strip(), now_utc()):
        error = PixApiError(401, "AcessoNegado", "Informe um token de acesso válido: Authorization: Bearer <token>.")
        raise error


def _oauth_error(status: int, code: str, description: str) -> Response:
    # The token endpoint speaks OAuth 2.0 (RFC 6749, section 5.2), which is what OAuth client libraries read.
    response = jsonify(error=code, error_description=description)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="psp-simulator"'
    return response


def _same(given: str | None, expected: str) -> bool:
    return hmac.compare_digest((given or "").encode("utf-8", "replace"), expected.encode("utf-8", "replace"))


def _grant_type() -> object:
    # RFC 6749 sends a form; Efí's SDKs send the same field as JSON. Both are accepted.
    if request.form.get("grant_type"):
        return request.form["grant_type"]
    body = json_or_none()
    return body.get("grant_type") if isinstance(body, dict) else None


@bp.post("/oauth/token")
def issue_token() -> Response:
    """A bearer token for the client that proves its client_id and client_secret with HTTP Basic."""
    refuse_during_outage()
    require_client_certificate()
    sim = current_simulator()
    credentials = request.authorization
    basic = credentials is not None and credentials.type == "basic"
    id_ok = _same(credentials.username if basic else "", sim.settings.client_id)
    secret_ok = _same(credentials.password if basic else "", sim.settings.client_secret)
    if not (id_ok and secret_ok):
        return _oauth_error(401, "invalid_client", "client_id ou client_secret incorretos (HTTP Basic).")
    if _grant_type() != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "use grant_type=client_credentials.")
    token = sim.tokens.issue(sim.settings.token_seconds, now_utc())
    lifetime = sim.settings.token_seconds
    return jsonify({"access_token": token, "token_type": BEARER, "expires_in": lifetime, "scope": SCOPES})
