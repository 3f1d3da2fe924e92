"""The simulator's records in the API Pix's JSON shapes: CobGerada, CobCompleta, CobPayload, Pix, Devolucao."""

from datetime import datetime
from typing import Any

from psp_simulator.brcode import dynamic_brcode
from psp_simulator.formats import money_text, timestamp_text
from psp_simulator.records import Charge, DeliveryAttempt, ReceivedPix, Refund, WebhookRegistration
from psp_simulator.settings import Settings


def _terms(charge: Charge) -> dict[str, Any]:
    terms = charge.terms
    body: dict[str, Any] = {}
    if terms.debtor:
        body["devedor"] = terms.debtor
    body |= {"valor": {"original": money_text(terms.amount)}, "chave": terms.key}
    if terms.payer_request:
        body["solicitacaoPagador"] = terms.payer_request
    if terms.extra_info:
        body["infoAdicionais"] = list(terms.extra_info)
    return body


def charge_json(charge: Charge, settings: Settings, pix: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A CobGerada (after PUT, POST, PATCH), or a CobCompleta with the Pix received when pix is given."""
    body: dict[str, Any] = {
        "calendario": {"criacao": timestamp_text(charge.created_at), "expiracao": charge.terms.expires_in},
        "txid": charge.txid,
        "revisao": charge.revision,
        "loc": {
            "id": charge.location_id,
            "location": charge.location,
            "tipoCob": "cob",
            "criacao": timestamp_text(charge.created_at),
        },
        "location": charge.location,
        "status": charge.status.value,
    }
    body |= _terms(charge)
    body["pixCopiaECola"] = dynamic_brcode(
        charge.location, charge.terms.amount, settings.merchant_name, settings.merchant_city
    )
    if pix is not None:
        body["pix"] = pix
    return body


def cob_payload(charge: Charge, presented_at: datetime) -> dict[str, Any]:
    """The CobPayload a payer's app reads at the location (signed before it is served)."""
    calendar = {
        "criacao": timestamp_text(charge.created_at),
        "apresentacao": timestamp_text(presented_at),
        "expiracao": charge.terms.expires_in,
    }
    body = {"revisao": charge.revision, "calendario": calendar, "txid": charge.txid, "status": charge.status.value}
    return body | _terms(charge)


def refund_json(refund: Refund) -> dict[str, Any]:
    """A Devolucao."""
    schedule = {"solicitacao": timestamp_text(refund.requested_at)}
    if refund.settled_at:
        schedule["liquidacao"] = timestamp_text(refund.settled_at)
    body: dict[str, Any] = {
        "id": refund.refund_id,
        "rtrId": refund.return_id,
        "valor": money_text(refund.request.amount),
        "natureza": refund.request.nature,
    }
    if refund.request.description:
        body["descricao"] = refund.request.description
    body |= {"horario": schedule, "status": refund.status.value}
    if refund.reason:
        body["motivo"] = refund.reason
    return body


def pix_json(pix: ReceivedPix, refunds: list[Refund]) -> dict[str, Any]:
    """A Pix, as GET /pix and the webhook show it, with its devolucoes once it has any."""
    body: dict[str, Any] = {"endToEndId": pix.end_to_end_id}
    if pix.txid:
        body["txid"] = pix.txid
    body |= {"valor": money_text(pix.amount), "chave": pix.key, "horario": timestamp_text(pix.paid_at)}
    if pix.payer_info:
        body["infoPagador"] = pix.payer_info
    if refunds:
        body["devolucoes"] = [refund_json(refund) for refund in refunds]
    return body


def webhook_json(registration: WebhookRegistration) -> dict[str, Any]:
    """A WebhookCompleto."""
    return {
        "webhookUrl": registration.url,
        "chave": registration.key,
        "criacao": timestamp_text(registration.created_at),
    }


def delivery_json(attempt: DeliveryAttempt) -> dict[str, Any]:
    """One line of the delivery log (the simulator's own shape, not the spec's)."""
    return {
        "time": timestamp_text(attempt.at),
        "chave": attempt.key,
        "url": attempt.url,
        "attempt": attempt.attempt,
        "status": attempt.status_code,
        "error": attempt.error,
        "endToEndIds": list(attempt.end_to_end_ids),
        "delivered": attempt.succeeded,
    }
