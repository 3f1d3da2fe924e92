"""Where a payment's BR Code comes from: built here (static), or issued by the PSP as a charge (api-pix)."""

import math
import secrets
import string
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Protocol

from pix.brcode import Merchant, build_brcode
from pix.brcode_reader import InvalidBrCodeError, read_dynamic_brcode
from pix.psp_client import ApiPixClient, PspError

TXID_ALPHABET = string.ascii_letters + string.digits
STATIC_TXID_LENGTH = 25  # the most 62-05 of a static code holds
CHARGE_TXID_LENGTH = 32  # a cob's txid has 26 to 35: never mistaken for a static one


@dataclass(frozen=True)
class IssuedCharge:
    """A charge ready to show: its txid and the BR Code a bank app reads."""

    txid: str
    pix_copy_paste: str


class ChargeIssuer(Protocol):
    """Anything that can issue a charge for an amount and a deadline."""

    name: str

    def issue(self, amount: Decimal, expires_in: timedelta, note: str | None) -> IssuedCharge:
        """A new charge; PspError when the PSP cannot make one."""
        ...


def new_txid(length: int) -> str:
    """An unguessable txid of letters and digits: the base-62 digits of one random number, drawn with 64 bits to
    spare so that every txid is as likely as any other (to within 2**-64), from one call to the system's source."""
    number, digits = secrets.randbits(length * 6 + 64), []
    for _ in range(length):
        number, digit = divmod(number, len(TXID_ALPHABET))
        digits.append(TXID_ALPHABET[digit])
    return "".join(digits)


class StaticProvider:
    """Static BR Codes built here with the shop's PIX key: no PSP call, no expiry at the bank."""

    name = "static"

    def __init__(self, merchant: Merchant) -> None:
        self.merchant = merchant

    def issue(self, amount: Decimal, expires_in: timedelta, note: str | None) -> IssuedCharge:
        """A static code carrying the amount and a fresh txid."""
        txid = new_txid(STATIC_TXID_LENGTH)
        return IssuedCharge(txid, build_brcode(self.merchant, txid, amount))


class ApiPixProvider:
    """Immediate charges (cob) at the PSP, whose dynamic code the PSP itself expires after the deadline."""

    name = "api-pix"

    def __init__(self, client: ApiPixClient, key: str) -> None:
        self.client = client
        self.key = key

    def issue(self, amount: Decimal, expires_in: timedelta, note: str | None) -> IssuedCharge:
        """PUT /cob/{txid}, then check the PSP's code before any buyer sees it."""
        txid = new_txid(CHARGE_TXID_LENGTH)
        charge = self.client.create_charge(txid, amount, math.ceil(expires_in.total_seconds()), self.key, note)
        try:
            code = read_dynamic_brcode(charge.pix_copy_paste)
        except InvalidBrCodeError as error:
            raise PspError(f"the PSP's BR Code would not scan: {error}") from None
        if code.amount is not None and code.amount != amount:
            raise PspError(f"the PSP's BR Code asks for {code.amount}, not {amount}")
        return IssuedCharge(txid, charge.pix_copy_paste)
