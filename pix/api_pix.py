"""The Banco Central's API Pix formats (bacen/pix-api openapi.yaml v2.9): received Pix, money strings, ids."""

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pix.instants import parse_instant

END_TO_END_ID = re.compile(r"[a-zA-Z0-9]{32}")
# In /pix and its webhook a txid has 1 to 35 characters; a charge's own (cob) txid has 26 to 35.
TXID = re.compile(r"[a-zA-Z0-9]{1,35}")
CHARGE_TXID = re.compile(r"[a-zA-Z0-9]{26,35}")
REFUND_ID = re.compile(r"[a-zA-Z0-9]{1,35}")
MONEY = re.compile(r"[0-9]{1,10}\.[0-9]{2}")  # ASCII digits only: \d would take ١٠.٠٠ too
# A Pix moved this century: Pix began in 2020, and no deadline arithmetic overflows in between.
EARLIEST_MOMENT, LATEST_MOMENT = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
REFUND_STATUSES = ("EM_PROCESSAMENTO", "DEVOLVIDO", "NAO_REALIZADO")


class InvalidPixItemError(ValueError):
    """An item of a Pix list that does not follow the API Pix schema; the message names the field, and item is
    the item itself where the list is at hand."""

    def __init__(self, message: str, item: Any = None) -> None:
        super().__init__(message)
        self.item = item


def item_json(item: Any) -> bytes:
    """An item of a Pix list as JSON again, to keep as it came (its numbers, which the API Pix never sends, were
    read as Decimal and keep their exact digits)."""
    return json.dumps(item, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8", "surrogatepass")


@dataclass(frozen=True)
class RefundNotice:
    """A devolução as the PSP reports it inside a received Pix: its id, amount and state."""

    refund_id: str
    rtr_id: str | None
    value: Decimal
    status: str


@dataclass(frozen=True)
class ReceivedPix:
    """One Pix the receiving PSP reports: who paid which charge, how much and when the money moved."""

    end_to_end_id: str
    txid: str | None
    value: Decimal
    paid_at: datetime
    refunds: list[RefundNotice] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # the item as the PSP sent it


def money(text: object, name: str) -> Decimal:
    """An API Pix amount ("110.00": a string with exactly two decimals) as an exact Decimal."""
    if not isinstance(text, str) or not MONEY.fullmatch(text):
        raise InvalidPixItemError(f"{name} must be a string like 110.00")
    return Decimal(text)


def money_text(amount: Decimal) -> str:
    """An exact amount as the API Pix writes it."""
    return f"{amount:.2f}"


def timestamp(text: object, name: str) -> datetime:
    """An RFC 3339 date-time with its offset, as an aware UTC datetime, within the years a Pix can bear."""
    moment = parse_instant(text)
    if moment is None:
        raise InvalidPixItemError(f"{name} must be an RFC 3339 date-time with its UTC offset")
    # Year 1 or 9999 would overflow the deadline arithmetic: the batch would fail, and fail again when retried.
    if not EARLIEST_MOMENT <= moment < LATEST_MOMENT:
        raise InvalidPixItemError(f"{name} must be in the years {EARLIEST_MOMENT.year} to {LATEST_MOMENT.year - 1}")
    return moment


def _text(item: dict[str, Any], name: str, pattern: re.Pattern[str], required: bool = True) -> str | None:
    value = item.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidPixItemError(f"{name} must match {pattern.pattern}")
    return value


def read_refund(item: object) -> RefundNotice:
    """One devolução of a received Pix."""
    if not isinstance(item, dict):
        raise InvalidPixItemError("each of devolucoes must be an object")
    status = item.get("status")
    if status not in REFUND_STATUSES:
        raise InvalidPixItemError(f"devolucoes.status must be one of {', '.join(REFUND_STATUSES)}")
    return RefundNotice(
        refund_id=_text(item, "id", REFUND_ID),
        rtr_id=_text(item, "rtrId", END_TO_END_ID, required=False),
        value=money(item.get("valor"), "devolucoes.valor"),
        status=status,
    )


def read_received_pix(item: object) -> ReceivedPix:
    """One item of a webhook's or a listing's `pix` array, or InvalidPixItemError naming what is wrong."""
    if not isinstance(item, dict):
        raise InvalidPixItemError("each item of pix must be an object")
    refunds = item.get("devolucoes") or []
    if not isinstance(refunds, list):
        raise InvalidPixItemError("devolucoes must be a list")
    return ReceivedPix(
        end_to_end_id=_text(item, "endToEndId", END_TO_END_ID),
        txid=_text(item, "txid", TXID, required=False),
        value=money(item.get("valor"), "valor"),
        paid_at=timestamp(item.get("horario"), "horario"),
        refunds=[read_refund(refund) for refund in refunds],
        raw=item,
    )


def pix_items(body: object) -> list[Any]:
    """The `pix` array of a webhook body ({"pix": [...]}), or InvalidPixItemError."""
    if not isinstance(body, dict) or not isinstance(body.get("pix"), list):
        raise InvalidPixItemError('the body must be {"pix": [...]}')
    return body["pix"]
