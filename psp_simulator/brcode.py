"""BR Codes (EMV MPM, Manual de Padrões para Iniciação do Pix): build a charge's dynamic code, read any code."""

import binascii
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from psp_simulator.formats import MONEY

GUI = "br.gov.bcb.pix"
CRC_FIELD_PREFIX = "6304"
MAX_LENGTH = 512
MAX_LOCATION_LENGTH = 77
MAX_NAME_LENGTH = 25
MAX_CITY_LENGTH = 15
DYNAMIC_TXID = "***"
# Any template from 26 to 51 may hold the Pix account information; 26 is merely the usual one.
ACCOUNT_TEMPLATES = tuple(f"{tag:02d}" for tag in range(26, 52))


class BrCodeError(ValueError):
    """The text is not a BR Code a bank app would accept; the message says why, in Portuguese, for the page."""


@dataclass(frozen=True)
class BrCode:
    """What a payer's app reads from a code: a key (static) or a location (dynamic), an amount and a txid."""

    key: str | None
    location: str | None
    amount: Decimal | None
    txid: str | None
    merchant_name: str
    merchant_city: str

    @property
    def is_dynamic(self) -> bool:
        """A dynamic code points at a location and carries *** where a static one carries its txid."""
        return self.location is not None


def fold_to_ascii(text: str) -> str:
    """text without accents or other non-ASCII characters, since bank apps only promise to read ASCII."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def crc16_ccitt_false(payload: str) -> str:
    """CRC16-CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF) as four uppercase hex digits."""
    return f"{binascii.crc_hqx(payload.encode('ascii'), 0xFFFF):04X}"


def emv_field(tag: str, value: str) -> str:
    """One EMV field: the tag, the value's length in two digits, the value."""
    if len(value) > 99:
        raise BrCodeError(f"o campo {tag} passa de 99 caracteres")
    return f"{tag}{len(value):02d}{value}"


def dynamic_brcode(location: str, amount: Decimal, merchant_name: str, merchant_city: str) -> str:
    """The Pix Copia e Cola of a charge: its location (without scheme) in 26-25 and *** as the txid."""
    if not 0 < len(location) <= MAX_LOCATION_LENGTH or "://" in location:
        raise BrCodeError("a location deve ter até 77 caracteres, sem o esquema (https://)")
    name, city = fold_to_ascii(merchant_name), fold_to_ascii(merchant_city)
    if not 0 < len(name) <= MAX_NAME_LENGTH or not 0 < len(city) <= MAX_CITY_LENGTH:
        raise BrCodeError("o nome do recebedor deve ter de 1 a 25 caracteres e a cidade de 1 a 15")
    account = emv_field("00", GUI) + emv_field("25", location)
    payload = (
        emv_field("00", "01")
        + emv_field("01", "12")
        + emv_field("26", account)
        + emv_field("52", "0000")
        + emv_field("53", "986")
        + emv_field("54", f"{amount:.2f}")
        + emv_field("58", "BR")
        + emv_field("59", name)
        + emv_field("60", city)
        + emv_field("62", emv_field("05", DYNAMIC_TXID))
        + CRC_FIELD_PREFIX
    )
    code = payload + crc16_ccitt_false(payload)
    if len(code) > MAX_LENGTH:
        raise BrCodeError(f"o código passaria de {MAX_LENGTH} caracteres")
    return code


def read_fields(payload: str) -> dict[str, str]:
    """The fields of one EMV level, or BrCodeError when a field is malformed, truncated or repeated."""
    fields: dict[str, str] = {}
    position = 0
    while position < len(payload):
        tag, length = payload[position : position + 2], payload[position + 2 : position + 4]
        if len(tag) < 2 or len(length) < 2 or not (tag + length).isdigit():
            raise BrCodeError(f"campo malformado na posição {position}")
        end = position + 4 + int(length)
        if end > len(payload) or tag in fields:
            raise BrCodeError(f"o campo {tag} está truncado ou repetido")
        fields[tag] = payload[position + 4 : end]
        position = end
    return fields


def parse_brcode(text: str) -> BrCode:
    """A BR Code read and checked (length, CRC, format indicator, the Pix GUI), or BrCodeError saying why not."""
    text = text.strip()
    if not text.isascii() or not text.isprintable() or not 0 < len(text) <= MAX_LENGTH:
        raise BrCodeError(f"um BR Code é texto ASCII imprimível de até {MAX_LENGTH} caracteres")
    if text[-8:-4] != CRC_FIELD_PREFIX or crc16_ccitt_false(text[:-4]) != text[-4:].upper():
        raise BrCodeError("o CRC (campo 63) não confere com o código")
    fields = read_fields(text)
    if fields.get("00") != "01":
        raise BrCodeError("o campo 00 (indicador de formato) deve ser 01")
    account = _pix_account(fields)
    amount_text = fields.get("54")
    if amount_text is not None and not MONEY.fullmatch(amount_text):
        raise BrCodeError("o campo 54 (valor) deve ser como 10.00")
    txid = read_fields(fields.get("62", "")).get("05")
    return BrCode(
        key=account.get("01"),
        location=account.get("25"),
        amount=Decimal(amount_text) if amount_text is not None else None,
        txid=None if txid in (None, DYNAMIC_TXID) else txid,
        merchant_name=fields.get("59", ""),
        merchant_city=fields.get("60", ""),
    )


def _pix_account(fields: dict[str, str]) -> dict[str, str]:
    for tag in ACCOUNT_TEMPLATES:
        if tag in fields:
            account = read_fields(fields[tag])
            if account.get("00", "").lower() == GUI:
                if "01" not in account and "25" not in account:
                    raise BrCodeError(f"o campo {tag} não traz chave (01) nem location (25)")
                return account
    raise BrCodeError("nenhum campo de conta (26 a 51) traz br.gov.bcb.pix")
