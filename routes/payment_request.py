"""What a shop may send with a payment besides its value: its reference, a description, metadata, a return URL."""

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app

from config.values import HOST_NAME
from middleware import host_is_listed, split_host
from routes.errors import ApiError
from routes.json_body import is_plain_text, optional_string

MAX_METADATA_KEYS = 20
MAX_METADATA_KEY = 40
MAX_METADATA_VALUE = 500
METADATA_KEY = re.compile(rf"[A-Za-z0-9_.-]{{1,{MAX_METADATA_KEY}}}")


@dataclass(frozen=True)
class ShopFields:
    """The shop's side of a payment, checked."""

    order_id: str | None
    description: str | None
    metadata: dict[str, str] | None
    return_url: str | None


def shop_fields(body: dict[str, Any]) -> ShopFields:
    """order_id, description, metadata and return_url from a creation body, or a 400 naming the field."""
    return ShopFields(
        order_id=optional_string(body, "order_id", 64),
        description=optional_string(body, "description", 140),
        metadata=_metadata(body.get("metadata")),
        return_url=_return_url(optional_string(body, "return_url", 2048)),
    )


def _metadata(raw: object) -> dict[str, str] | None:
    if raw is None:
        return None
    message = (
        f"metadata must be an object of at most {MAX_METADATA_KEYS} keys ({MAX_METADATA_KEY} letters, digits, _ . -) "
        f"with string values of at most {MAX_METADATA_VALUE} characters"
    )
    if not isinstance(raw, dict) or len(raw) > MAX_METADATA_KEYS:
        raise ApiError(400, "invalid_field", message, "metadata")
    for key, value in raw.items():
        if not METADATA_KEY.fullmatch(key) or not isinstance(value, str) or len(value) > MAX_METADATA_VALUE:
            raise ApiError(400, "invalid_field", message, "metadata")
        if not is_plain_text(value):
            raise ApiError(400, "invalid_field", "metadata values must not hold control characters", "metadata")
    return raw


def _return_url(url: str | None) -> str | None:
    if url is None:
        return None
    parts = urlsplit(url)
    production = current_app.config["APP_ENV"] == "production"
    schemes = ("https",) if production else ("https", "http")
    host, _ = split_host(parts.netloc)
    if parts.scheme not in schemes or not HOST_NAME.fullmatch(host) or parts.username or parts.password:
        raise ApiError(400, "invalid_field", f"return_url must be an absolute {' or '.join(schemes)} URL", "return_url")
    allowed = current_app.config["RETURN_URL_HOST_RULES"]
    if not allowed:
        if production:
            raise ApiError(400, "invalid_field", "return_url needs RETURN_URL_HOSTS set on the server", "return_url")
        return url  # development: any host, so the demo shop on localhost works
    if not host_is_listed(parts.netloc, parts.scheme, allowed):
        raise ApiError(400, "invalid_field", "return_url's host is not in RETURN_URL_HOSTS", "return_url")
    return url
