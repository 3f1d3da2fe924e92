"""What a shop may set on a webhook endpoint, checked: URL, event filter, headers, auth and retry schedule."""

import fnmatch
import re
from typing import Any
from urllib.parse import urlsplit

from flask import current_app

from config.values import HOST_NAME
from jobs.safe_http import BlockedAddressError, checked_address
from middleware import split_host
from repository.outbox import EVENT_TYPES
from routes.errors import ApiError
from routes.json_body import is_plain_text, is_whole, optional_string

MAX_EVENT_PATTERNS = 20
MAX_HEADERS = 10
MAX_HEADER_VALUE = 1000
HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}")
# Set by the worker itself: a custom header must not forge the signature, the body's type or the target host.
RESERVED_HEADERS = {"authorization", "connection", "content-length", "content-type", "host", "transfer-encoding"}
RESERVED_PREFIXES = ("webhook-",)
MAX_RETRIES = 20
MAX_RETRY_WAIT = 86400
MAX_RETRY_TOTAL = 7 * 86400
MAX_SECRET_FIELD = 500


def endpoint_fields(body: dict[str, Any], partial: bool) -> dict[str, Any]:
    """The endpoint fields present in a creation (partial=False: url required) or change body, checked."""
    known = {"url", "description", "event_types", "headers", "auth", "retry_schedule", "enabled"}
    unknown = sorted(set(body) - known)
    if unknown:
        raise ApiError(
            400, "unknown_field", f"unknown field {unknown[0]}; known: {', '.join(sorted(known))}", unknown[0]
        )
    checks = {
        "url": lambda: _url(body.get("url")),
        "description": lambda: optional_string(body, "description", 200),
        "event_types": lambda: _event_types(body.get("event_types")),
        "headers": lambda: _headers(body.get("headers")),
        "auth": lambda: _auth(body.get("auth")),
        "retry_schedule": lambda: _retry_schedule(body.get("retry_schedule")),
        "enabled": lambda: _enabled(body.get("enabled")),
    }
    if not partial:
        body = {"event_types": ["*"], "headers": {}} | body
        if "url" not in body:
            raise ApiError(400, "missing_field", "url is required", "url")
    return {name: check() for name, check in checks.items() if name in body}


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(400, "invalid_field", message, field)


def _url(raw: object) -> str:
    production = current_app.config["APP_ENV"] == "production"
    schemes = ("https",) if production else ("https", "http")
    message = f"url must be an absolute {' or '.join(schemes)} URL of at most 2048 characters, without credentials"
    if not isinstance(raw, str) or len(raw) > 2048 or not is_plain_text(raw) or " " in raw:
        raise _invalid("url", message)
    try:
        parts = urlsplit(raw)
        host, port = split_host(parts.netloc)
        _ = parts.port  # a port that is not a number
    except ValueError:
        raise _invalid("url", message) from None
    if parts.scheme not in schemes or not HOST_NAME.fullmatch(host) or host.startswith(".") or "@" in parts.netloc:
        raise _invalid("url", message)
    if parts.fragment:
        raise _invalid("url", "url must not have a #fragment")
    config = current_app.config
    if not config["WEBHOOK_ALLOW_PRIVATE"]:
        # Early word for the shop; the worker checks again before every attempt, since DNS answers change.
        try:
            checked_address(host.strip("[]"), port or 443, False, config["WEBHOOK_ALLOWED_NETWORKS"])
        except BlockedAddressError as error:
            raise ApiError(400, "endpoint_address_refused", str(error), "url") from None
    return raw


def _event_types(raw: object) -> list[str]:
    message = f"event_types must list 1 to {MAX_EVENT_PATTERNS} of *, payment.* or {', '.join(EVENT_TYPES)}"
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_EVENT_PATTERNS:
        raise _invalid("event_types", message)
    for pattern in raw:
        # A pattern must name at least one event: a typo such as "payment.payed" would silently get nothing.
        if not isinstance(pattern, str) or not any(fnmatch.fnmatchcase(name, pattern) for name in EVENT_TYPES):
            raise _invalid("event_types", message)
        if set(pattern) & set("[]?!"):
            raise _invalid("event_types", "event_types patterns may use only * as a wildcard")
    return list(dict.fromkeys(raw))


def _headers(raw: object) -> dict[str, str]:
    message = f"headers must be an object of at most {MAX_HEADERS} header names with string values"
    if not isinstance(raw, dict) or len(raw) > MAX_HEADERS:
        raise _invalid("headers", message)
    for name, value in raw.items():
        if not HEADER_NAME.fullmatch(name) or not isinstance(value, str) or len(value) > MAX_HEADER_VALUE:
            raise _invalid("headers", message)
        if name.lower() in RESERVED_HEADERS or name.lower().startswith(RESERVED_PREFIXES):
            raise _invalid("headers", f"header {name} is set by the checkout itself (use auth for Authorization)")
        if not is_plain_text(value) or not value.isascii():
            raise _invalid("headers", "header values must be ASCII without control characters (line breaks among them)")
    return raw


def _secret_part(auth: dict[str, Any], name: str) -> str:
    value = auth.get(name)
    if not isinstance(value, str) or not value or len(value) > MAX_SECRET_FIELD or not is_plain_text(value):
        raise _invalid("auth", f"auth.{name} must be a non-empty string without control characters")
    return value


def _auth(raw: object) -> dict[str, str] | None:
    if raw is None:
        return None
    message = (
        'auth must be null, {"type": "bearer", "token": ...} or {"type": "basic", "username": ..., "password": ...}'
    )
    if not isinstance(raw, dict):
        raise _invalid("auth", message)
    if raw.get("type") == "bearer" and set(raw) == {"type", "token"}:
        token = _secret_part(raw, "token")
        if not token.isascii():  # it travels in a header, which carries ASCII only
            raise _invalid("auth", "auth.token must be ASCII")
        return {"type": "bearer", "token": token}
    if raw.get("type") == "basic" and set(raw) == {"type", "username", "password"}:
        username = _secret_part(raw, "username")
        if ":" in username:
            raise _invalid("auth", "auth.username must not contain a colon")
        return {"type": "basic", "username": username, "password": _secret_part(raw, "password")}
    raise _invalid("auth", message)


def _retry_schedule(raw: object) -> list[int]:
    message = (
        f"retry_schedule must list at most {MAX_RETRIES} waits in whole seconds, each 1 to {MAX_RETRY_WAIT}, "
        f"together at most {MAX_RETRY_TOTAL} (a week)"
    )
    if not isinstance(raw, list) or len(raw) > MAX_RETRIES:
        raise _invalid("retry_schedule", message)
    # JSON numbers arrive as Decimal: a wait must be a whole number, never true or 1.5.
    if not all(is_whole(wait) and 1 <= wait <= MAX_RETRY_WAIT for wait in raw):
        raise _invalid("retry_schedule", message)
    if sum(raw) > MAX_RETRY_TOTAL:
        raise _invalid("retry_schedule", message)
    return [int(wait) for wait in raw]


def _enabled(raw: object) -> bool:
    if not isinstance(raw, bool):
        raise _invalid("enabled", "enabled must be true or false")
    return raw
