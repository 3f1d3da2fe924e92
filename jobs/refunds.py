"""Refunds at the PSP: requested by the shop (API or CLI), settled by the PSP (its answer, webhook, reconciliation).

The refund is stored before the PSP is told, under an id of ours; the PSP's PUT is idempotent by that id, so a
request whose answer was lost is simply sent again.
"""

import logging
from decimal import Decimal

from db_models import Refund, RefundStatus
from pix.money import from_cents
from pix.providers import new_txid
from pix.psp_client import ApiPixClient, PspError
from repository.refunds import note_checked, open_refund, record_refund_state, refunds_in_flight

log = logging.getLogger(__name__)
REFUND_ID_LENGTH = 32


def new_refund_id() -> str:
    """An id for a devolução: letters and digits, as the API Pix asks."""
    return new_txid(REFUND_ID_LENGTH)


def request_refund(
    client: ApiPixClient, end_to_end_id: str, amount: Decimal | None, description: str | None, refund_id: str
) -> Refund:
    """Open the refund and tell the PSP; asking again with the same refund_id returns the same refund."""
    refund = open_refund(end_to_end_id, refund_id, amount, description)
    return send_refund(client, refund) if refund.status == RefundStatus.REQUESTED else refund


def send_refund(client: ApiPixClient, refund: Refund) -> Refund:
    """PUT the refund at the PSP. Only the PSP's refusal makes it RECUSADO; without a verdict (no answer, one
    that cannot be read, our credentials refused) it stays REQUESTED, to be sent again later."""
    try:
        state = client.refund(
            refund.end_to_end_id, refund.refund_id, from_cents(refund.value_cents), refund.description
        )
    except PspError as error:
        if not error.refused:
            log.warning("refund %s not sent yet: %s", refund.refund_id, error)
            return refund
        log.warning("the PSP refused refund %s: %s", refund.refund_id, error)
        return record_refund_state(refund.refund_id, RefundStatus.REFUSED, str(error)) or refund
    log.info("refund %s of %s: %s", refund.refund_id, refund.end_to_end_id, state.status)
    return record_refund_state(refund.refund_id, state.status, state.reason, value=state.value) or refund


def ask_about(client: ApiPixClient, refund: Refund) -> Refund:
    """The refund as the PSP now describes it (GET), or as it was when the PSP cannot say."""
    try:
        state = client.refund_state(refund.end_to_end_id, refund.refund_id)
    except PspError as error:
        log.warning("could not ask the PSP about refund %s: %s", refund.refund_id, error)
        return refund
    return record_refund_state(refund.refund_id, state.status, state.reason, value=state.value) or refund


def settle_refunds(client: ApiPixClient) -> int:
    """Send the refunds not sent yet and ask about the ones in progress; how many changed."""
    changed = 0
    for refund in refunds_in_flight():
        before = refund.status
        refund = send_refund(client, refund) if before == RefundStatus.REQUESTED else ask_about(client, refund)
        if refund.status == before:
            note_checked(refund)
        else:
            changed += 1
    return changed
