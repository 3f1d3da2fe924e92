"""Validation of the receiving PIX key, merchant name and city, done once at startup."""

import re
import uuid

from validate_docbr import CNPJ, CPF

from pix.brcode import MAX_CITY_LENGTH, MAX_NAME_LENGTH, Merchant, fold_to_ascii

PHONE_KEY = re.compile(r"\+55[0-9]{10,11}")
EMAIL_KEY = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_EMAIL_LENGTH = 77


class InvalidMerchantError(ValueError):
    """The configured key, name or city cannot appear in a valid BR Code."""


def normalize_pix_key(raw: str) -> str:
    """The key as the DICT stores it, or InvalidMerchantError if it is no CPF, CNPJ, phone, e-mail or EVP."""
    key = raw.strip()
    if PHONE_KEY.fullmatch(key):
        return key
    if "@" in key:
        if len(key) <= MAX_EMAIL_LENGTH and EMAIL_KEY.fullmatch(key):
            return key.lower()
        raise InvalidMerchantError("PIX_KEY looks like an e-mail address but is not a valid one")
    try:
        if len(key) == 36:
            return str(uuid.UUID(key))
    except ValueError:
        pass
    digits = re.sub(r"[.\-/]", "", key).upper()
    if digits.isascii() and digits.isdigit():
        if len(digits) == 11 and CPF().validate(digits):
            return digits
        if len(digits) == 14 and CNPJ().validate(digits):
            return digits
        raise InvalidMerchantError("PIX_KEY has the length of a CPF or CNPJ but wrong check digits")
    # The alphanumeric CNPJ (issued since July 2026): twelve letters or digits, then two check digits.
    if len(digits) == 14 and digits.isascii() and digits.isalnum() and digits[12:].isdigit():
        if CNPJ().validate(digits):
            return digits
        raise InvalidMerchantError("PIX_KEY has the form of an alphanumeric CNPJ but wrong check digits")
    raise InvalidMerchantError("PIX_KEY must be a CPF, CNPJ, +55 phone number, e-mail or random (EVP) key")


def _printable_ascii(value: str, setting: str, max_length: int) -> str:
    folded = " ".join(fold_to_ascii(value).split())
    if not folded:
        raise InvalidMerchantError(f"{setting} must not be empty")
    if len(folded) > max_length:
        raise InvalidMerchantError(f"{setting} must be at most {max_length} characters, got {folded!r}")
    return folded


def load_merchant(key: str, name: str, city: str) -> Merchant:
    """A Merchant whose fields are known to fit the BR Code rules."""
    return Merchant(
        key=normalize_pix_key(key),
        name=_printable_ascii(name, "PIX_MERCHANT_NAME", MAX_NAME_LENGTH),
        city=_printable_ascii(city, "PIX_MERCHANT_CITY", MAX_CITY_LENGTH),
    )
