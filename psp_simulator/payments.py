"""Money arriving and leaving: paying charges and codes, refunds settling, and the webhooks each one triggers."""

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from psp_simulator.api_json import pix_json
from psp_simulator.brcode import BrCodeError, parse_brcode
from psp_simulator.formats import new_end_to_end_id, new_return_id, now_utc
from psp_simulator.records import Charge, ReceivedPix, Refund, RefundRequest
from psp_simulator.services import Simulator
from psp_simulator.store import RefundOutcome

log = logging.getLogger(__name__)


class PaymentRefusedError(ValueError):
    """A payment the simulator cannot make (an unreadable code, an unknown location); the message says why."""


@dataclass(frozen=True)
class PaymentOrder:
    """How to pay: the amount and time (default: the charge's amount, now) and the chaos options."""

    amount: Decimal | None = None
    paid_at: datetime | None = None
    deliver: bool = True
    copies: int = 1
    times: int = 1
    batch: bool = False
    payer_info: str | None = None


def receive(sim: Simulator, key: str, amount: Decimal, order: PaymentOrder, txid: str | None) -> list[ReceivedPix]:
    """order.times Pix of amount to key, recorded (paying txid's charge if they match it) and announced."""
    paid_at = order.paid_at or now_utc()
    received = []
    for _ in range(order.times):
        end_to_end_id = new_end_to_end_id(sim.settings.ispb, paid_at)
        pix = ReceivedPix(end_to_end_id, amount, key, paid_at, txid=txid, payer_info=order.payer_info)
        paid_charge = sim.store.record_pix(pix)
        log.info(
            "Pix %s of %s to %s (txid %s): %s", end_to_end_id, amount, key, txid, "paid" if paid_charge else "kept"
        )
        received.append(pix)
    if order.deliver:
        announce(sim, received, copies=order.copies, batch=order.batch)
    return received


def pay_charge(sim: Simulator, charge: Charge, order: PaymentOrder) -> list[ReceivedPix]:
    """Pay charge as a buyer's bank would, with the charge's own key and txid."""
    return receive(sim, charge.terms.key, order.amount or charge.terms.amount, order, charge.txid)


def pay_code(sim: Simulator, text: str, amount: Decimal | None) -> list[ReceivedPix]:
    """Pay a Pix Copia e Cola: a dynamic one pays its charge here; a static one sends money to its key and txid."""
    try:
        code = parse_brcode(text)
    except BrCodeError as error:
        raise PaymentRefusedError(f"código inválido: {error}") from None
    order = PaymentOrder(amount=amount)
    if code.location is not None:
        prefix = sim.settings.location_prefix
        charge = sim.store.charge_at_location(code.location.removeprefix(prefix))
        if not code.location.startswith(prefix) or charge is None:
            raise PaymentRefusedError("a location do código não é de uma cobrança deste simulador")
        return pay_charge(sim, charge, order)
    if code.key is None:
        raise PaymentRefusedError("o código não traz uma chave Pix (26-01)")
    if (amount or code.amount) is None:
        raise PaymentRefusedError("o código estático não traz valor (54): informe o valor a pagar")
    return receive(sim, code.key, amount or code.amount, order, code.txid)


def announce(sim: Simulator, received: list[ReceivedPix], copies: int = 1, batch: bool = False) -> None:
    """Send the webhook for received, copies times: one body per Pix, or one body for all of them when batch."""
    groups = [received] if batch else [[pix] for pix in received]
    for group in groups:
        items = [pix_json(pix, sim.store.refunds_of(pix.end_to_end_id)) for pix in group]
        for _ in range(copies):
            sim.sender.send(group[0].key, items)


def request_refund(
    sim: Simulator, end_to_end_id: str, refund_id: str, request: RefundRequest
) -> tuple[RefundOutcome, Refund | None]:
    """Start a refund, which settles SIM_REFUND_SECONDS later; or the existing one, or why not."""
    now = now_utc()
    outcome, refund = sim.store.request_refund(
        end_to_end_id, refund_id, request, now, new_return_id(sim.settings.ispb, now)
    )
    if outcome is RefundOutcome.CREATED:
        sim.scheduler.call_later(sim.settings.refund_seconds, lambda: settle_refund(sim, end_to_end_id, refund_id))
    return outcome, refund


def settle_refund(sim: Simulator, end_to_end_id: str, refund_id: str) -> None:
    """Finish a refund and, as the spec's callback says, send the Pix's webhook again with its devolucoes."""
    if sim.store.settle_refund(end_to_end_id, refund_id, now_utc()) is None:
        return
    pix = sim.store.pix(end_to_end_id)
    if pix is not None:
        announce(sim, [pix])
