"""Charges, received Pix and refunds for the life of the process, behind one lock: every check-then-change is inside."""

import threading
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from psp_simulator.formats import new_location_token
from psp_simulator.records import (
    Charge,
    ChargeStatus,
    ChargeTerms,
    ReceivedPix,
    Refund,
    RefundRequest,
    RefundStatus,
)

REFUND_WINDOW = timedelta(days=90)
REFUSED_REFUND_REASON = "Devolução recusada pelo simulador, como pedido em /sim/refunds/fail-next."


class RefundOutcome(Enum):
    """What became of a refund request."""

    CREATED = "created"
    EXISTING = "existing"
    PIX_NOT_FOUND = "pix_not_found"
    ID_TAKEN = "id_taken"
    EXCEEDS_PIX = "exceeds_pix"
    WINDOW_CLOSED = "window_closed"


class Store:
    """Charges, received Pix, refunds and the chaos switches (outage, failing the next refund)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Location ids keep counting across resets, so an old id never names a new charge.
        self._next_location_id = 1
        self.reset()

    def reset(self) -> None:
        """Forget every charge, Pix and refund, and switch the chaos off."""
        with self._lock:
            self._charges: dict[str, Charge] = {}
            self._txid_by_token: dict[str, str] = {}
            self._pix: dict[str, ReceivedPix] = {}
            self._refunds: dict[tuple[str, str], Refund] = {}
            self._outage = False
            self._fail_next_refund = False

    @property
    def outage(self) -> bool:
        """Whether the API is pretending to be down."""
        return self._outage

    def set_outage(self, on: bool) -> None:
        """Switch the pretended outage on or off."""
        with self._lock:
            self._outage = on

    @property
    def refund_failure_armed(self) -> bool:
        """Whether the next refund requested will end NAO_REALIZADO."""
        return self._fail_next_refund

    def arm_refund_failure(self) -> None:
        """Make the next refund requested fail when it settles."""
        with self._lock:
            self._fail_next_refund = True

    def create_charge(self, txid: str, terms: ChargeTerms, now: datetime, location_prefix: str) -> Charge | None:
        """A new ATIVA charge with its own location, or None when txid is already used."""
        token = new_location_token()
        with self._lock:
            if txid in self._charges:
                return None
            charge = Charge(txid, terms, now, self._next_location_id, location_prefix + token, token)
            self._next_location_id += 1
            self._charges[txid] = charge
            self._txid_by_token[token] = txid
        return charge

    def charge(self, txid: str) -> Charge | None:
        """The charge with txid, if any."""
        with self._lock:
            return self._charges.get(txid)

    def charge_at_location(self, token: str) -> Charge | None:
        """The charge whose location ends with token, if any."""
        with self._lock:
            txid = self._txid_by_token.get(token)
            return self._charges.get(txid) if txid else None

    def charges(self) -> list[Charge]:
        """Every charge, oldest first."""
        with self._lock:
            return list(self._charges.values())

    def revise_charge(self, txid: str, changes: dict[str, Any], remove: bool) -> Charge | None:
        """The charge with changed terms (or removed) and revisao + 1; None unless it exists and is ATIVA."""
        with self._lock:
            charge = self._charges.get(txid)
            if charge is None or charge.status != ChargeStatus.ATIVA:
                return None
            status = ChargeStatus.REMOVIDA_PELO_USUARIO_RECEBEDOR if remove else charge.status
            terms = replace(charge.terms, **changes)
            revised = replace(charge, terms=terms, status=status, revision=charge.revision + 1)
            self._charges[txid] = revised
        return revised

    def record_pix(self, pix: ReceivedPix) -> bool:
        """Keep a Pix that arrived; True when it paid its charge: exact amount, same key, ATIVA, not yet expired."""
        with self._lock:
            self._pix[pix.end_to_end_id] = pix
            charge = self._charges.get(pix.txid or "")
            pays = (
                charge is not None
                and charge.status == ChargeStatus.ATIVA
                and charge.terms.key == pix.key
                and charge.terms.amount == pix.amount
                and pix.paid_at <= charge.deadline
            )
            if pays:
                self._charges[charge.txid] = replace(charge, status=ChargeStatus.CONCLUIDA)
        return pays

    def pix(self, end_to_end_id: str) -> ReceivedPix | None:
        """The Pix with end_to_end_id, if any."""
        with self._lock:
            return self._pix.get(end_to_end_id)

    def all_pix(self) -> list[ReceivedPix]:
        """Every Pix received, oldest first."""
        with self._lock:
            return list(self._pix.values())

    def pix_of_charge(self, charge: Charge) -> list[ReceivedPix]:
        """The Pix that named charge's txid and were sent to its key."""
        with self._lock:
            return [pix for pix in self._pix.values() if pix.txid == charge.txid and pix.key == charge.terms.key]

    def request_refund(
        self, end_to_end_id: str, refund_id: str, request: RefundRequest, now: datetime, return_id: str
    ) -> tuple[RefundOutcome, Refund | None]:
        """A refund of a Pix, the one already made with this id, or why neither (the total never exceeds the Pix)."""
        with self._lock:
            pix = self._pix.get(end_to_end_id)
            if pix is None:
                return RefundOutcome.PIX_NOT_FOUND, None
            existing = self._refunds.get((end_to_end_id, refund_id))
            if existing is not None:
                same = existing.request == request
                return (RefundOutcome.EXISTING, existing) if same else (RefundOutcome.ID_TAKEN, existing)
            if now - pix.paid_at > REFUND_WINDOW:
                return RefundOutcome.WINDOW_CLOSED, None
            if self._refunded(end_to_end_id) + request.amount > pix.amount:
                return RefundOutcome.EXCEEDS_PIX, None
            refund = Refund(end_to_end_id, refund_id, return_id, request, now, will_fail=self._fail_next_refund)
            self._fail_next_refund = False
            self._refunds[(end_to_end_id, refund_id)] = refund
        return RefundOutcome.CREATED, refund

    def refundable(self, end_to_end_id: str) -> Decimal:
        """How much of a Pix can still be given back."""
        with self._lock:
            pix = self._pix.get(end_to_end_id)
            return pix.amount - self._refunded(end_to_end_id) if pix else Decimal(0)

    def _refunded(self, end_to_end_id: str) -> Decimal:
        # Refused refunds gave nothing back, so they do not count against the Pix's value.
        refunds = (refund for (e2e, _), refund in self._refunds.items() if e2e == end_to_end_id)
        return sum((r.request.amount for r in refunds if r.status != RefundStatus.NAO_REALIZADO), Decimal(0))

    def settle_refund(self, end_to_end_id: str, refund_id: str, now: datetime) -> Refund | None:
        """The refund moved to DEVOLVIDO, or NAO_REALIZADO when it was set to fail; None if not in processing."""
        with self._lock:
            refund = self._refunds.get((end_to_end_id, refund_id))
            if refund is None or refund.status != RefundStatus.EM_PROCESSAMENTO:
                return None
            if refund.will_fail:
                settled = replace(refund, status=RefundStatus.NAO_REALIZADO, reason=REFUSED_REFUND_REASON)
            else:
                settled = replace(refund, status=RefundStatus.DEVOLVIDO, settled_at=now)
            self._refunds[(end_to_end_id, refund_id)] = settled
        return settled

    def refund(self, end_to_end_id: str, refund_id: str) -> Refund | None:
        """The refund with refund_id of a Pix, if any."""
        with self._lock:
            return self._refunds.get((end_to_end_id, refund_id))

    def refunds_of(self, end_to_end_id: str) -> list[Refund]:
        """The refunds of a Pix, oldest first."""
        with self._lock:
            return [refund for (e2e, _), refund in self._refunds.items() if e2e == end_to_end_id]

    def all_refunds(self) -> list[Refund]:
        """Every refund, oldest first."""
        with self._lock:
            return list(self._refunds.values())
