"""API Pix webhook configuration: PUT/GET/DELETE /v2/webhook/{chave} and GET /v2/webhook."""

from flask import Blueprint, Response, jsonify

from psp_simulator.api_json import webhook_json
from psp_simulator.formats import clean_text
from psp_simulator.problems import PixApiError, Violation
from psp_simulator.request_input import json_object, read_window
from psp_simulator.services import current_simulator
from psp_simulator.settings import is_web_url

bp = Blueprint("webhook", __name__, url_prefix="/webhook")

INVALID = "WebhookOperacaoInvalida"
NOT_FOUND = "WebhookNaoEncontrado"


def _key(chave: str) -> str:
    key = clean_text(chave, 77)
    if key is None:
        reason = "A chave deve ser um texto de 1 a 77 caracteres."
        raise PixApiError(400, INVALID, reason, [Violation("chave", reason)])
    return key


@bp.put("/<chave>")
def register_webhook(chave: str) -> Response:
    """Send the Pix received for chave to webhookUrl + "/pix" from now on."""
    key = _key(chave)
    url = json_object(INVALID).get("webhookUrl")
    if not is_web_url(url):
        reason = "O campo webhook.webhookUrl deve ser uma URL http:// ou https://."
        raise PixApiError(400, INVALID, reason, [Violation("webhook.webhookUrl", reason)])
    current_simulator().webhooks.register(key, url)
    return jsonify(webhook_json(current_simulator().webhooks.registration(key)))


@bp.get("/<chave>")
def show_webhook(chave: str) -> Response:
    """The webhook registered for chave."""
    registration = current_simulator().webhooks.registration(chave)
    if registration is None:
        raise PixApiError(404, NOT_FOUND, "Não há webhook cadastrado para esta chave.")
    return jsonify(webhook_json(registration))


@bp.delete("/<chave>")
def remove_webhook(chave: str) -> Response:
    """Stop announcing chave's Pix."""
    if not current_simulator().webhooks.remove(chave):
        raise PixApiError(404, NOT_FOUND, "Não há webhook cadastrado para esta chave.")
    return Response(status=204)


@bp.get("")
def list_webhooks() -> Response:
    """Every webhook, optionally those registered between inicio and fim."""
    window, violations = read_window("WebhookConsultaInvalida", required=False)
    violations.raise_if_any(
        "WebhookConsultaInvalida", "Os parâmetros da consulta de webhooks não respeitam o _schema_."
    )
    found = [webhook_json(w) for w in current_simulator().webhooks.registrations() if window.contains(w.created_at)]
    return jsonify(parametros=window.parameters(len(found)), webhooks=window.page_of(found))
