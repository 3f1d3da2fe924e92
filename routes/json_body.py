"""Strict JSON request bodies: numbers parsed as Decimal, never float, and clear 4xx errors."""

import json
import unicodedata
from decimal import Decimal
from typing import Any

from flask import request

from pix.money import InvalidAmountError, parse_amount
from routes.errors import ApiError


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Parsers disagree on which duplicate wins, so a body with one means different things to different readers.
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate keys")
    return dict(pairs)


def json_object() -> dict[str, Any]:
    """The request body as a JSON object, or a 415/400 ApiError that says what is wrong."""
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    try:
        body = json.loads(
            request.get_data(),  # cached: the webhook has already read these bytes to verify them
            parse_float=Decimal,
            parse_int=Decimal,
            parse_constant=_refuse_constant,
            object_pairs_hook=_refuse_duplicate_keys,
        )
    except (ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "the body is not valid UTF-8 JSON without duplicate keys") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return body


def required_amount(body: dict[str, Any], field: str, maximum: Decimal) -> Decimal:
    """An exact, positive amount from body[field], or a 400 naming the field."""
    if field not in body or body[field] is None:
        raise ApiError(400, "missing_field", f"{field} is required", field)
    try:
        return parse_amount(body[field], maximum)
    except InvalidAmountError as error:
        raise ApiError(400, "invalid_field", f"{field} {error}", field) from None


def required_string(body: dict[str, Any], field: str, max_length: int) -> str:
    """A non-empty string of at most max_length characters from body[field], or a 400 naming the field."""
    value = body.get(field)
    if value is None:
        raise ApiError(400, "missing_field", f"{field} is required", field)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "invalid_field", f"{field} must be a non-empty string", field)
    if len(value) > max_length:
        raise ApiError(400, "invalid_field", f"{field} must be at most {max_length} characters", field)
    if not is_plain_text(value):
        raise ApiError(400, "invalid_field", f"{field} must not hold control characters or lone surrogates", field)
    return value.strip()


def is_plain_text(text: str) -> bool:
    """No control characters (NUL among them: databases refuse it) and no lone surrogates (no encoding takes them)."""
    return not any(unicodedata.category(character) in ("Cc", "Cs") for character in text)


def optional_string(body: dict[str, Any], field: str, max_length: int) -> str | None:
    """Like required_string, but None when the field is absent or null."""
    return None if body.get(field) is None else required_string(body, field, max_length)


def is_whole(value: object) -> bool:
    """A JSON whole number (parsed as Decimal), never true, false or 1.5."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        return False
    return value.is_finite() and value == value.to_integral_value() if isinstance(value, Decimal) else True


def optional_whole(body: dict[str, Any], field: str, low: int, high: int) -> int | None:
    """A whole number within [low, high] from body[field], None when absent or null, or a 400 naming the field."""
    value = body.get(field)
    if value is None:
        return None
    if not is_whole(value) or not low <= value <= high:
        raise ApiError(400, "invalid_field", f"{field} must be a whole number from {low} to {high}", field)
    return int(value)
