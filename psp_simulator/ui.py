"""The page for people (GET /) and its forms under /sim/ui, which act and redirect back (POST-redirect-GET)."""

import uuid
from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from psp_simulator.formats import now_utc
from psp_simulator.payments import PaymentOrder, PaymentRefusedError, pay_charge, pay_code, request_refund
from psp_simulator.presentation import REFUND_LABELS, brl, charge_status, local_time, typed_amount
from psp_simulator.records import RefundRequest
from psp_simulator.services import Simulator, current_simulator
from psp_simulator.store import RefundOutcome

bp = Blueprint("ui", __name__)

SHOWN_DELIVERIES = 50
PAYMENT_MODES = {
    "exato": "Pagamento do valor exato enviado.",
    "outro": "Pagamento de outro valor enviado.",
    "expirado": "Pagamento após a expiração enviado.",
    "duas-vezes": "Dois pagamentos enviados.",
    "sem-webhook": "Pagamento registrado sem avisar o webhook.",
}


MAX_CODE_LENGTH = 512  # the longest a BR Code may be


def _back(message: str, category: str = "ok") -> Response:
    flash(message, category)
    return redirect(url_for("ui.page"), code=303)


def _page_context(sim: Simulator) -> dict[str, Any]:
    now, store = now_utc(), sim.store
    charges = []
    for charge in reversed(store.charges()):
        label, modifier = charge_status(charge, now)
        charges.append({"charge": charge, "status": label, "modifier": modifier, "paid": store.pix_of_charge(charge)})
    received = [
        {"pix": pix, "refunds": store.refunds_of(pix.end_to_end_id), "refundable": store.refundable(pix.end_to_end_id)}
        for pix in reversed(store.all_pix())
    ]
    deliveries = list(reversed(sim.webhooks.deliveries()))[:SHOWN_DELIVERIES]
    return {
        "charges": charges,
        "received": received,
        "webhooks": sim.webhooks.registrations(),
        "deliveries": deliveries,
        "outage": store.outage,
        "refund_failure_armed": store.refund_failure_armed,
        "brl": brl,
        "local_time": local_time,
        "refund_labels": REFUND_LABELS,
        "settings": sim.settings,
    }


@bp.get("/")
def page() -> str:
    """Everything at a glance, with buttons to pay, refund and break things; ?codigo= fills the code to pay."""
    code = request.args.get("codigo", "")[:MAX_CODE_LENGTH]
    return render_template("index.html", code=code, **_page_context(current_simulator()))


@bp.post("/sim/ui/pay-code")
def pay_typed_code() -> Response:
    """Pay the Pix Copia e Cola pasted in the form."""
    typed = request.form.get("valor", "").strip()
    amount = typed_amount(typed) if typed else None
    if typed and amount is None:
        return _back("Valor inválido: use, por exemplo, 12,50.", "error")
    try:
        received = pay_code(current_simulator(), request.form.get("pixCopiaECola", ""), amount)
    except PaymentRefusedError as error:
        return _back(f"Não foi possível pagar: {error}.", "error")
    return _back(f"Pix de {brl(received[0].amount)} recebido.")


@bp.post("/sim/ui/cob/<txid>/pay")
def pay_from_page(txid: str) -> Response:
    """Pay one charge the way its button says."""
    sim = current_simulator()
    charge, mode = sim.store.charge(txid), request.form.get("modo", "")
    if charge is None or mode not in PAYMENT_MODES:
        return _back("Cobrança ou forma de pagamento desconhecida.", "error")
    order = PaymentOrder()
    if mode == "outro":
        amount = typed_amount(request.form.get("valor", ""))
        if amount is None:
            return _back("Informe o outro valor, por exemplo 12,50.", "error")
        order = PaymentOrder(amount=amount)
    elif mode == "expirado":
        order = PaymentOrder(paid_at=charge.deadline + timedelta(minutes=1))
    elif mode == "duas-vezes":
        order = PaymentOrder(times=2)
    elif mode == "sem-webhook":
        order = PaymentOrder(deliver=False)
    pay_charge(sim, charge, order)
    if mode == "expirado" and not charge.is_expired(now_utc()):
        # A checkout that does not believe a PSP clock ahead of its own takes a future horario as "now".
        return _back("Pagamento enviado com horário 1 minuto após o prazo, que ainda está no futuro.", "warn")
    return _back(PAYMENT_MODES[mode])


@bp.post("/sim/ui/pix/<e2eid>/refund")
def refund_from_page(e2eid: str) -> Response:
    """Give back what is left of a Pix."""
    sim = current_simulator()
    amount = sim.store.refundable(e2eid)
    if amount <= 0:
        return _back("Nada a devolver deste Pix.", "error")
    request_id = uuid.uuid4().hex
    outcome, _ = request_refund(sim, e2eid, request_id, RefundRequest(amount, description="Devolução pelo simulador"))
    if outcome is not RefundOutcome.CREATED:
        return _back("A devolução não foi aceita.", "error")
    return _back(f"Devolução de {brl(amount)} solicitada.")


@bp.post("/sim/ui/outage")
def toggle_outage() -> Response:
    """Start or end the pretended outage."""
    on = request.form.get("on") == "1"
    current_simulator().store.set_outage(on)
    return _back("Indisponibilidade simulada: a API responde 503." if on else "API disponível de novo.")


@bp.post("/sim/ui/refunds/fail-next")
def fail_next_refund_from_page() -> Response:
    """Make the next refund fail."""
    current_simulator().store.arm_refund_failure()
    return _back("A próxima devolução vai terminar como NAO_REALIZADO.")


@bp.post("/sim/ui/reset")
def reset_from_page() -> Response:
    """Clear everything."""
    current_simulator().reset()
    return _back("Tudo limpo.")
