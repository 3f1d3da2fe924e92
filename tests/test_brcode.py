"""The BR Code text must be exactly what the BCB specifies, or bank apps refuse it."""

import re
from decimal import Decimal

import pytest

from pix.brcode import Merchant, build_brcode, crc16_ccitt_false, fold_to_ascii
from pix.brcode_reader import InvalidBrCodeError, read_dynamic_brcode, read_fields
from tests.brcodes import dynamic_code

BCB_MANUAL_EXAMPLE = (
    "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-426655440000"
    "5204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D"
)


def test_crc16_matches_the_ccitt_false_check_value() -> None:
    assert crc16_ccitt_false("123456789") == "29B1"


def test_bcb_manual_example_is_reproduced_exactly() -> None:
    merchant = Merchant(key="123e4567-e12b-12d1-a456-426655440000", name="Fulano de Tal", city="BRASILIA")
    assert build_brcode(merchant, "***") == BCB_MANUAL_EXAMPLE


def test_payment_code_carries_amount_txid_and_valid_crc() -> None:
    merchant = Merchant(key="fulano@example.com", name="Loja Exemplo", city="SAO PAULO")
    code = build_brcode(merchant, "ABC123xyz", Decimal("1500.00"))
    fields = read_fields(code)
    assert list(fields) == ["00", "26", "52", "53", "54", "58", "59", "60", "62", "63"]
    assert fields["00"] == "01"
    assert read_fields(fields["26"]) == {"00": "br.gov.bcb.pix", "01": "fulano@example.com"}
    assert (fields["52"], fields["53"], fields["54"], fields["58"]) == ("0000", "986", "1500.00", "BR")
    assert (fields["59"], fields["60"]) == ("Loja Exemplo", "SAO PAULO")
    assert read_fields(fields["62"]) == {"05": "ABC123xyz"}
    assert re.fullmatch(r"[0-9A-F]{4}", fields["63"])
    assert fields["63"] == crc16_ccitt_false(code[:-4])


@pytest.mark.parametrize(("amount", "text"), [(Decimal("0.01"), "0.01"), (Decimal("12.5"), "12.50")])
def test_amount_always_has_two_decimals(amount: Decimal, text: str) -> None:
    code = build_brcode(Merchant("fulano@example.com", "Loja", "RIO"), "T1", amount)
    assert read_fields(code)["54"] == text


@pytest.mark.parametrize("txid", ["", "a" * 26, "com-hifen", "ação", "with space"])
def test_txid_outside_the_spec_is_refused(txid: str) -> None:
    with pytest.raises(ValueError, match="txid"):
        build_brcode(Merchant("fulano@example.com", "Loja", "RIO"), txid, Decimal("1.00"))


def test_accents_fold_to_ascii() -> None:
    assert fold_to_ascii("São Paulo Açaí Ícaro") == "Sao Paulo Acai Icaro"


def test_a_psps_dynamic_code_is_read_for_its_location_and_amount() -> None:
    code = read_dynamic_brcode(dynamic_code())
    assert (code.location, code.amount) == ("pix.example.com/qr/v2/9d36b84f-c70b-478f", Decimal("10.50"))


@pytest.mark.parametrize(
    "text",
    [
        dynamic_code(crc="0000"),
        dynamic_code(txid="ABC123"),  # a static code's txid
        dynamic_code(location="https://pix.example.com/qr/v2/x"),
        dynamic_code(location=""),
        dynamic_code()[:-1],
        dynamic_code() + "0000",
        "x" * 600,
        "",
        None,
        "000201" + "é" * 10,
    ],
)
def test_a_dynamic_code_that_would_fail_in_a_bank_app_is_refused(text: object) -> None:
    with pytest.raises(InvalidBrCodeError):
        read_dynamic_brcode(text)
