"""The receiving key, name and city are checked once, at startup."""

import pytest

from pix.merchant import InvalidMerchantError, load_merchant, normalize_pix_key


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("529.982.247-25", "52998224725"),
        ("52998224725", "52998224725"),
        ("11.222.333/0001-81", "11222333000181"),
        ("12.ABC.345/01DE-35", "12ABC34501DE35"),  # the alphanumeric CNPJ, the Receita Federal's example
        ("12abc34501de35", "12ABC34501DE35"),
        ("+5511987654321", "+5511987654321"),
        ("+551133334444", "+551133334444"),
        ("Loja@Example.com", "loja@example.com"),
        ("123E4567-E12B-12D1-A456-426655440000", "123e4567-e12b-12d1-a456-426655440000"),
    ],
)
def test_valid_keys_are_normalized(raw: str, normalized: str) -> None:
    assert normalize_pix_key(raw) == normalized


@pytest.mark.parametrize(
    "raw",
    [
        "529.982.247-26",  # wrong CPF check digit
        "11111111111",  # repeated digits
        "11.222.333/0001-82",  # wrong CNPJ check digit
        "12.ABC.345/01DE-36",  # wrong alphanumeric CNPJ check digit
        "11987654321x",
        "+1555123456",  # not a Brazilian phone
        "not-an-email@",
        "a" * 70 + "@example.com",
        "123e4567-e12b-12d1-a456-42665544000",
        "",
    ],
)
def test_invalid_keys_are_refused(raw: str) -> None:
    with pytest.raises(InvalidMerchantError):
        normalize_pix_key(raw)


def test_name_and_city_are_folded_to_ascii() -> None:
    merchant = load_merchant("fulano@example.com", "  Padaria  São João ", "Brasília")
    assert (merchant.name, merchant.city) == ("Padaria Sao Joao", "Brasilia")


@pytest.mark.parametrize(
    ("name", "city", "setting"),
    [("x" * 26, "RIO", "PIX_MERCHANT_NAME"), ("Loja", "Sao Jose dos Campos", "PIX_MERCHANT_CITY"), ("", "RIO", "NAME")],
)
def test_too_long_or_empty_name_and_city_are_refused(name: str, city: str, setting: str) -> None:
    with pytest.raises(InvalidMerchantError, match=setting):
        load_merchant("fulano@example.com", name, city)
