"""Static PIX BR Code (EMV MPM) payloads, as specified in the BCB "Manual de Padrões para Iniciação do Pix"."""

import binascii
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

GUI = "br.gov.bcb.pix"
MAX_NAME_LENGTH = 25
MAX_CITY_LENGTH = 15
CRC_FIELD_PREFIX = "6304"
TXID_PATTERN = re.compile(r"[A-Za-z0-9]{1,25}|\*\*\*")


@dataclass(frozen=True)
class Merchant:
    """Who receives the money: a validated PIX key plus the name and city printed in the code."""

    key: str
    name: str
    city: str


def fold_to_ascii(text: str) -> str:
    """Drop accents and any other non-ASCII character, since bank apps only promise ASCII."""
    decomposed = unicodedata.normalize("NFKD", text)
    return decomposed.encode("ascii", "ignore").decode("ascii")


def crc16_ccitt_false(payload: str) -> str:
    """CRC16-CCITT-FALSE (poly 0x1021, init 0xFFFF) as 4 uppercase hex digits."""
    return f"{binascii.crc_hqx(payload.encode('ascii'), 0xFFFF):04X}"


def _field(tag: str, value: str) -> str:
    if len(value) > 99:
        raise ValueError(f"EMV field {tag} is longer than 99 characters")
    return f"{tag}{len(value):02d}{value}"


def build_brcode(merchant: Merchant, txid: str, amount: Decimal | None = None) -> str:
    """The "Pix Copia e Cola" text a bank app reads from the QR code."""
    if not TXID_PATTERN.fullmatch(txid):
        raise ValueError("txid must be 1 to 25 letters and digits, or ***")
    account = _field("00", GUI) + _field("01", merchant.key)
    payload = (
        _field("00", "01")
        + _field("26", account)
        + _field("52", "0000")
        + _field("53", "986")
        + (_field("54", f"{amount:.2f}") if amount is not None else "")
        + _field("58", "BR")
        + _field("59", merchant.name)
        + _field("60", merchant.city)
        + _field("62", _field("05", txid))
        + CRC_FIELD_PREFIX
    )
    return payload + crc16_ccitt_false(payload)
