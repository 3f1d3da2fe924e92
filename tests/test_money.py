"""Amounts are exact Decimals, never floats, and print the Brazilian way."""

from decimal import Decimal

import pytest

from pix.money import InvalidAmountError, format_brl, from_cents, parse_amount, to_cents

MAXIMUM = Decimal("100000.00")


@pytest.mark.parametrize(
    ("raw", "amount"),
    [
        (Decimal("1500"), Decimal("1500.00")),
        (Decimal("0.1"), Decimal("0.10")),
        (Decimal("19.99"), Decimal("19.99")),
        ("1500", Decimal("1500.00")),
        ("0.01", Decimal("0.01")),
        (" 42.50 ", Decimal("42.50")),
        (7, Decimal("7.00")),
        (Decimal("100000.00"), MAXIMUM),
    ],
)
def test_valid_amounts_parse_exactly(raw: object, amount: Decimal) -> None:
    parsed = parse_amount(raw, MAXIMUM)
    assert parsed == amount
    assert parsed.as_tuple().exponent == -2


@pytest.mark.parametrize(
    "raw",
    [
        Decimal("0"),
        Decimal("-1"),
        Decimal("0.001"),
        Decimal("100000.01"),
        Decimal("1E+400"),
        Decimal("NaN"),
        Decimal("Infinity"),
        "1,50",
        "abc",
        "",
        "1e3",
        "-5",
        True,
        None,
        1.5,
        [1],
        {"value": 1},
    ],
)
def test_invalid_amounts_are_refused(raw: object) -> None:
    with pytest.raises(InvalidAmountError):
        parse_amount(raw, MAXIMUM)


def test_brl_uses_brazilian_separators() -> None:
    assert format_brl(Decimal("1500.00")) == "R$\xa01.500,00"
    assert format_brl(Decimal("0.05")) == "R$\xa00,05"


@pytest.mark.parametrize(
    ("amount", "cents"), [(Decimal("0.01"), 1), (Decimal("1500.00"), 150000), (Decimal("19.99"), 1999)]
)
def test_cents_round_trip_exactly(amount: Decimal, cents: int) -> None:
    assert to_cents(amount) == cents
    assert from_cents(cents) == amount
    assert str(from_cents(cents)) == f"{amount:.2f}"
