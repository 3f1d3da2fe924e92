"""Exact amounts in reais: parsing what clients send and printing it the Brazilian way."""

import re
from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency

CENT = Decimal("0.01")
DECIMAL_STRING = re.compile(r"[0-9]{1,13}(\.[0-9]{1,2})?")


class InvalidAmountError(ValueError):
    """The value is not a positive amount of reais with at most two decimal places."""


def parse_amount(raw: object, maximum: Decimal) -> Decimal:
    """A JSON number (already parsed as Decimal) or a decimal string, as an exact Decimal with 2 places."""
    if isinstance(raw, str):
        text = raw.strip(" ")
        if not DECIMAL_STRING.fullmatch(text):
            raise InvalidAmountError("must be a number like 1500 or 1500.00, with a dot for decimals")
        raw = Decimal(text)
    elif isinstance(raw, int) and not isinstance(raw, bool):
        raw = Decimal(raw)
    if not isinstance(raw, Decimal):
        raise InvalidAmountError("must be a number or a decimal string")
    if not raw.is_finite():
        raise InvalidAmountError("must be a finite number")
    if raw <= 0:
        raise InvalidAmountError("must be greater than zero")
    if raw > maximum:
        raise InvalidAmountError(f"must be at most {maximum:.2f}")
    try:
        exact = raw.quantize(CENT)
    except InvalidOperation as error:
        raise InvalidAmountError("must have at most 2 decimal places") from error
    if exact != raw:
        raise InvalidAmountError("must have at most 2 decimal places")
    return exact


def to_cents(amount: Decimal) -> int:
    """Whole cents of an amount with at most two decimal places: how amounts are stored."""
    return int(amount.scaleb(2))


def from_cents(cents: int) -> Decimal:
    """The exact amount in reais, with two decimal places, of a number of cents."""
    return Decimal(cents).scaleb(-2)


def json_number(amount: Decimal) -> int | float:
    """A JSON number for an exact 2-place amount; its repr prints exactly those digits."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def format_brl(amount: Decimal) -> str:
    """R$ 1.500,00, with the non-breaking space Brazilian typography uses."""
    return format_currency(amount, "BRL", locale="pt_BR")
