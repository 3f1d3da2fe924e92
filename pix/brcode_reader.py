"""Reading BR Codes (EMV MPM): fields, CRC, and the checks a PSP's dynamic code passes before a buyer sees it."""

import re
from dataclasses import dataclass
from decimal import Decimal

from pix.brcode import CRC_FIELD_PREFIX, GUI, crc16_ccitt_false

MAX_LENGTH = 512
MAX_LOCATION_LENGTH = 77
AMOUNT = re.compile(r"[0-9]{1,10}(\.[0-9]{1,2})?")  # field 54: up to 13 characters


class InvalidBrCodeError(ValueError):
    """The text is not a BR Code a bank app would accept; the message says why."""


@dataclass(frozen=True)
class DynamicBrCode:
    """What the checkout needs of a PSP's dynamic code: where its payload lives and the amount, if printed."""

    text: str
    location: str
    amount: Decimal | None


def read_fields(payload: str) -> dict[str, str]:
    """The fields of one EMV level (tag, two-digit length, value), or InvalidBrCodeError."""
    fields, position = {}, 0
    while position < len(payload):
        tag, length = payload[position : position + 2], payload[position + 2 : position + 4]
        if not (tag.isdigit() and length.isdigit() and tag.isascii() and length.isascii()):
            raise InvalidBrCodeError(f"malformed field at position {position}")
        end = position + 4 + int(length)
        if end > len(payload) or tag in fields:
            raise InvalidBrCodeError(f"field {tag} is truncated or repeated")
        fields[tag] = payload[position + 4 : end]
        position = end
    return fields


def verify_crc(text: str) -> None:
    """InvalidBrCodeError unless text ends with 6304 and the CRC16 of everything before its four digits."""
    if len(text) < 8 or text[-8:-4] != CRC_FIELD_PREFIX or crc16_ccitt_false(text[:-4]) != text[-4:].upper():
        raise InvalidBrCodeError("the CRC does not match")


def read_dynamic_brcode(text: object) -> DynamicBrCode:
    """A PSP's dynamic BR Code, checked: CRC, format, the Pix GUI, a location in 26-25 and *** in 62-05."""
    if not isinstance(text, str) or not text.isascii() or not 0 < len(text) <= MAX_LENGTH:
        raise InvalidBrCodeError(f"a BR Code is ASCII text of at most {MAX_LENGTH} characters")
    verify_crc(text)
    fields = read_fields(text)
    if fields.get("00") != "01":
        raise InvalidBrCodeError("field 00 must be 01")
    account = read_fields(fields.get("26", ""))
    additional = read_fields(fields.get("62", ""))
    location = account.get("25", "")
    if account.get("00", "").lower() != GUI or not 0 < len(location) <= MAX_LOCATION_LENGTH or "://" in location:
        raise InvalidBrCodeError("field 26 must hold br.gov.bcb.pix and a location without its scheme")
    if additional.get("05") != "***":
        raise InvalidBrCodeError("a dynamic code carries *** as its txid (62-05)")
    return DynamicBrCode(text=text, location=location, amount=_amount(fields.get("54")))


def _amount(text: str | None) -> Decimal | None:
    if text is None:
        return None
    # Digits and at most two decimals, as EMV writes an amount: Decimal alone takes 1.5E1, 1_5.00, +15 and " 15".
    if not AMOUNT.fullmatch(text):
        raise InvalidBrCodeError("field 54 is not an amount like 10.00")
    return Decimal(text)
