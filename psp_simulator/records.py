"""What the simulator remembers, as immutable records: a change makes a new record, so readers never see half of one."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum


class ChargeStatus(StrEnum):
    """The record status of a charge (an expired charge stays ATIVA: expiry is a matter of time, not of state)."""

    ATIVA = "ATIVA"
    CONCLUIDA = "CONCLUIDA"
    REMOVIDA_PELO_USUARIO_RECEBEDOR = "REMOVIDA_PELO_USUARIO_RECEBEDOR"


class RefundStatus(StrEnum):
    """Where a devolução stands: still moving, returned, or refused."""

    EM_PROCESSAMENTO = "EM_PROCESSAMENTO"
    DEVOLVIDO = "DEVOLVIDO"
    NAO_REALIZADO = "NAO_REALIZADO"


@dataclass(frozen=True)
class ChargeTerms:
    """What the shop asks for in a charge (cob): the parts it sets when creating or revising one."""

    amount: Decimal
    key: str
    expires_in: int = 86400
    payer_request: str | None = None
    debtor: dict[str, str] | None = None
    extra_info: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class Charge:
    """An immediate charge (cob) with its location, revision and status."""

    txid: str
    terms: ChargeTerms
    created_at: datetime
    location_id: int
    location: str
    location_token: str
    revision: int = 0
    status: ChargeStatus = ChargeStatus.ATIVA

    @property
    def deadline(self) -> datetime:
        """The moment after which the charge may no longer be paid: criacao + expiracao."""
        return self.created_at + timedelta(seconds=self.terms.expires_in)

    def is_expired(self, now: datetime) -> bool:
        """Whether the charge's deadline has passed at now."""
        return now > self.deadline


@dataclass(frozen=True)
class ReceivedPix:
    """Money that arrived: one Pix, possibly naming a charge by its txid."""

    end_to_end_id: str
    amount: Decimal
    key: str
    paid_at: datetime
    txid: str | None = None
    payer_info: str | None = None


@dataclass(frozen=True)
class RefundRequest:
    """What the shop asks to give back of a Pix (the body of PUT /pix/{e2eid}/devolucao/{id})."""

    amount: Decimal
    nature: str = "ORIGINAL"
    description: str | None = None


@dataclass(frozen=True)
class Refund:
    """A devolução of a received Pix and where it stands."""

    end_to_end_id: str
    refund_id: str
    return_id: str
    request: RefundRequest
    requested_at: datetime
    will_fail: bool = False
    status: RefundStatus = RefundStatus.EM_PROCESSAMENTO
    settled_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True)
class WebhookRegistration:
    """Where to announce the Pix received for one key."""

    key: str
    url: str
    created_at: datetime


@dataclass(frozen=True)
class DeliveryAttempt:
    """One try at announcing Pix to a webhook, as the delivery log shows it."""

    at: datetime
    key: str
    url: str | None
    attempt: int
    end_to_end_ids: tuple[str, ...]
    status_code: int | None = None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        """Only a 2xx answer counts as delivered; a redirect is a failure, since redirects are not followed."""
        return self.status_code is not None and 200 <= self.status_code < 300
