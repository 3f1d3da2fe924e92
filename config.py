"""Settings: defaults, then environment variables, then the mapping given to create_app."""

import os
import re
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from limits import parse_many

from middleware import split_host
from pix.merchant import load_merchant
from pix.secret_strength import estimated_entropy_bits
from pix.signatures import DEVELOPMENT_WEBHOOK_SECRET, webhook_key

# The example key of the BCB manual: fine for a demo, refused in production.
DEVELOPMENT_PIX_KEY = "123e4567-e12b-12d1-a456-426655440000"

DEFAULTS: dict[str, Any] = {
    "APP_ENV": "development",
    "DATABASE_URL": None,
    "AUTO_MIGRATE": None,
    "PIX_WEBHOOK_SECRET": DEVELOPMENT_WEBHOOK_SECRET,
    "SHOP_API_KEY": None,
    "PIX_KEY": DEVELOPMENT_PIX_KEY,
    "PIX_MERCHANT_NAME": "Loja Exemplo",
    "PIX_MERCHANT_CITY": "SAO PAULO",
    "PIX_MAX_VALUE": "100000.00",
    "PIX_EXPIRATION_MINUTES": "30",
    "PIX_CLOCK_TOLERANCE_SECONDS": 30,
    "SOCKETIO_ASYNC_MODE": "eventlet",
    "SOCKETIO_MESSAGE_QUEUE": None,
    "SOCKETIO_CHANNEL": "pix-checkout",
    "SOCKETIO_MAX_SUBSCRIPTIONS": 10,
    "SOCKETIO_EVENTS_PER_SECOND": 5,
    "SOCKETIO_EVENT_BURST": 20,
    "SOCKETIO_MAX_QUEUED_PACKETS": 100,
    "SOCKETIO_ABUSE_COOLDOWN": 10,
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_STORAGE_URI": None,
    "RATELIMIT_KEY_PREFIX": "pix-checkout",
    "PIX_CREATE_RATE_LIMIT": "1200 per minute",
    "PIX_AUTH_FAILURE_RATE_LIMIT": "30 per minute",
    "PIX_CONFIRM_RATE_LIMIT": "600 per minute",
    "PROXY_FIX_HOPS": 0,
    "TRUSTED_HOSTS": None,
    "DISPLAY_TIMEZONE": "America/Sao_Paulo",
    "MAX_CONTENT_LENGTH": 64 * 1024,
    "API_DOCS_ENABLED": True,
    "PIX_WEBHOOK_AUTH": "off",
    "PIX_WEBHOOK_PATH": "/webhooks/api-pix",
    "PIX_WEBHOOK_TOKEN": None,
    "PIX_WEBHOOK_ALLOWED_IPS": None,
    "PIX_MTLS_PROXIES": "127.0.0.1, ::1",
    "HTTP_IDLE_TIMEOUT": 30,
    "HTTP_HEADER_TIMEOUT": 10,
    "SOCKETIO_PING_INTERVAL": 25,
    "SOCKETIO_PING_TIMEOUT": 20,
}
ENVIRONMENTS = ("development", "production")
MIN_API_KEY_LENGTH = 24
# 16 random bytes score about 60 bits by estimated_entropy_bits; typed and patterned secrets far less.
MIN_ENTROPY_BITS = 48
MIN_PRODUCTION_EXPIRY = timedelta(minutes=1)
ASYNC_MODES = ("eventlet", "threading")
WEBHOOK_AUTH_MODES = ("off", "mtls", "token")
WEBHOOK_PATH = re.compile(r"(/[A-Za-z0-9._~-]+)+")
# Field 54 of the BR Code holds at most 13 characters: 9999999999.99.
LARGEST_AMOUNT = Decimal("9999999999.99")
# Whole-number settings and the range that makes sense for each.
WHOLE_NUMBERS = {
    "PROXY_FIX_HOPS": (0, 5),
    "SOCKETIO_MAX_SUBSCRIPTIONS": (1, 1000),
    "SOCKETIO_EVENTS_PER_SECOND": (1, 10_000),
    "SOCKETIO_EVENT_BURST": (1, 10_000),
    "SOCKETIO_MAX_QUEUED_PACKETS": (10, 100_000),
    "SOCKETIO_ABUSE_COOLDOWN": (0, 3600),
    "MAX_CONTENT_LENGTH": (1024, 1024 * 1024),
    "PIX_CLOCK_TOLERANCE_SECONDS": (0, 600),
    "HTTP_IDLE_TIMEOUT": (1, 3600),
    "HTTP_HEADER_TIMEOUT": (1, 300),
    "SOCKETIO_PING_INTERVAL": (1, 300),
    "SOCKETIO_PING_TIMEOUT": (1, 300),
}
# A DNS name, a leading dot for "and its subdomains", an IPv4 address or a bracketed IPv6 literal; never "*".
DNS_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
HOST_NAME = re.compile(rf"\.?{DNS_LABEL}(\.{DNS_LABEL})*|\[[0-9A-Fa-f:.]+\]")
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


class ConfigError(RuntimeError):
    """The settings are unusable or unsafe; the app refuses to start."""


def load_settings(overrides: Mapping[str, Any] | None, instance_path: str) -> dict[str, Any]:
    """Merge defaults, environment and overrides, then derive and validate what the app uses."""
    settings = dict(DEFAULTS)
    settings.update({name: os.environ[name] for name in DEFAULTS if name in os.environ})
    settings.update(overrides or {})
    # A typo such as "prod" must not quietly start with the development secret.
    _one_of(settings, "APP_ENV", ENVIRONMENTS)
    _one_of(settings, "SOCKETIO_ASYNC_MODE", ASYNC_MODES)
    _database(settings, instance_path)
    _pix(settings)
    _deployment(settings)
    settings["DEBUG"] = _boolean(settings.get("DEBUG", os.environ.get("FLASK_DEBUG") or False), "FLASK_DEBUG")
    if settings["APP_ENV"] == "production":
        _refuse_development_values(settings)
    return settings


def _database(settings: dict[str, Any], instance_path: str) -> None:
    url = settings["DATABASE_URL"]
    if not url:
        Path(instance_path).mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{Path(instance_path) / 'pix_checkout.db'}"
    # pg8000 is pure Python, so under eventlet its socket waits yield to other clients instead of blocking them.
    for plain in ("postgres://", "postgresql://"):
        if url.startswith(plain):
            url = "postgresql+pg8000://" + url.removeprefix(plain)
    settings["DATABASE_URL"] = settings["SQLALCHEMY_DATABASE_URI"] = url
    embedded = url.startswith("sqlite")
    # Only the embedded database migrates itself; shared databases migrate once, by `flask db upgrade`.
    auto = settings["AUTO_MIGRATE"]
    settings["AUTO_MIGRATE"] = embedded if auto is None else _boolean(auto, "AUTO_MIGRATE")


def _pix(settings: dict[str, Any]) -> None:
    try:
        settings["PIX_MERCHANT"] = load_merchant(
            settings["PIX_KEY"], settings["PIX_MERCHANT_NAME"], settings["PIX_MERCHANT_CITY"]
        )
    except ValueError as error:
        raise ConfigError(str(error)) from error
    try:
        settings["PIX_WEBHOOK_KEY"] = webhook_key(settings["PIX_WEBHOOK_SECRET"])
    except ValueError as error:
        raise ConfigError(f"PIX_WEBHOOK_SECRET is unusable: {error}") from error
    maximum = _positive_decimal(settings["PIX_MAX_VALUE"], "PIX_MAX_VALUE")
    if maximum < Decimal("0.01") or maximum > LARGEST_AMOUNT or maximum != maximum.quantize(Decimal("0.01")):
        raise ConfigError(f"PIX_MAX_VALUE must be 0.01 to {LARGEST_AMOUNT} with at most 2 decimals, got {maximum}")
    settings["PIX_MAX_VALUE"] = maximum
    minutes = _positive_decimal(settings["PIX_EXPIRATION_MINUTES"], "PIX_EXPIRATION_MINUTES")
    if minutes > 7 * 24 * 60:
        raise ConfigError(f"PIX_EXPIRATION_MINUTES must be at most a week (10080), got {minutes}")
    settings["PIX_EXPIRES_IN"] = timedelta(minutes=float(minutes))
    try:
        ZoneInfo(settings["DISPLAY_TIMEZONE"])
    except (ValueError, ZoneInfoNotFoundError):
        raise ConfigError(f"DISPLAY_TIMEZONE is not a known time zone: {settings['DISPLAY_TIMEZONE']!r}") from None


def _deployment(settings: dict[str, Any]) -> None:
    for name in ("RATELIMIT_ENABLED", "API_DOCS_ENABLED"):
        settings[name] = _boolean(settings[name], name)
    queue = settings["SOCKETIO_MESSAGE_QUEUE"]
    if not settings["RATELIMIT_STORAGE_URI"]:
        # Several processes must count together, so share the Redis that already carries their events.
        settings["RATELIMIT_STORAGE_URI"] = queue if queue and queue.startswith("redis") else "memory://"
    settings["RATELIMIT_HEADERS_ENABLED"] = True
    for name in ("PIX_CREATE_RATE_LIMIT", "PIX_AUTH_FAILURE_RATE_LIMIT", "PIX_CONFIRM_RATE_LIMIT"):
        try:
            parse_many(settings[name])
        except ValueError:
            raise ConfigError(f"{name} must read like '60 per minute', got {settings[name]!r}") from None
    for name, (low, high) in WHOLE_NUMBERS.items():
        settings[name] = _whole_number(settings[name], name, low, high)
    settings["PIX_CLOCK_TOLERANCE"] = timedelta(seconds=settings["PIX_CLOCK_TOLERANCE_SECONDS"])
    _trusted_hosts(settings)
    _api_pix_webhook(settings)


def _trusted_hosts(settings: dict[str, Any]) -> None:
    # page_url and friends are built from the Host header: only answer to the shop's own names and ports.
    raw = settings["TRUSTED_HOSTS"] or []
    entries = [entry.strip() for entry in raw.split(",")] if isinstance(raw, str) else list(raw)
    rules = []
    for entry in filter(None, entries):
        name, port = split_host(entry)
        if not name or not HOST_NAME.fullmatch(name):
            raise ConfigError(f"TRUSTED_HOSTS entries are host names with an optional :port, got {entry!r}")
        rules.append((name.lower(), port))
    settings["TRUSTED_HOST_RULES"] = rules
    # Flask checks the names too (it ignores ports), so nothing builds a link from an unchecked Host.
    settings["TRUSTED_HOSTS"] = sorted({name for name, _ in rules}) or None


def _api_pix_webhook(settings: dict[str, Any]) -> None:
    _one_of(settings, "PIX_WEBHOOK_AUTH", WEBHOOK_AUTH_MODES)
    if not WEBHOOK_PATH.fullmatch(settings["PIX_WEBHOOK_PATH"]):
        raise ConfigError(f"PIX_WEBHOOK_PATH must look like /webhooks/api-pix, got {settings['PIX_WEBHOOK_PATH']!r}")
    token = settings["PIX_WEBHOOK_TOKEN"] or ""
    if settings["PIX_WEBHOOK_AUTH"] == "token" and (len(token) < MIN_API_KEY_LENGTH or not token.isascii()):
        raise ConfigError(f"PIX_WEBHOOK_AUTH=token needs a PIX_WEBHOOK_TOKEN of {MIN_API_KEY_LENGTH}+ characters")
    settings["PIX_WEBHOOK_ALLOWED_NETWORKS"] = _networks(settings["PIX_WEBHOOK_ALLOWED_IPS"], "PIX_WEBHOOK_ALLOWED_IPS")
    try:
        settings["PIX_MTLS_PROXIES"] = {str(ip_address(a.strip())) for a in _listed(settings["PIX_MTLS_PROXIES"])}
    except ValueError:
        raise ConfigError(f"PIX_MTLS_PROXIES must list IP addresses, got {settings['PIX_MTLS_PROXIES']!r}") from None


def _listed(raw: object) -> list[str]:
    if not raw:
        return []
    return [item.strip() for item in (raw.split(",") if isinstance(raw, str) else raw) if item.strip()]


def _networks(raw: object, name: str) -> list[IPv4Network | IPv6Network]:
    try:
        return [ip_network(item, strict=False) for item in _listed(raw)]
    except ValueError:
        raise ConfigError(f"{name} must list IP addresses or networks like 34.193.116.226/32, got {raw!r}") from None


def _one_of(settings: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> None:
    if settings[name] not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {settings[name]!r}")


def _boolean(raw: object, name: str) -> bool:
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word in TRUE_WORDS | FALSE_WORDS:
        return word in TRUE_WORDS
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _whole_number(raw: object, name: str, low: int, high: int) -> int:
    try:
        number = int(str(raw).strip())
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= number <= high:
        raise ConfigError(f"{name} must be from {low} to {high}, got {number}")
    return number


def _positive_decimal(raw: object, name: str) -> Decimal:
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not value.is_finite() or value <= 0:
        raise ConfigError(f"{name} must be greater than zero, got {raw!r}")
    return value


def _refuse_development_values(settings: Mapping[str, Any]) -> None:
    refuse = "APP_ENV=production refuses "
    if settings["PIX_WEBHOOK_KEY"] == webhook_key(DEVELOPMENT_WEBHOOK_SECRET):
        raise ConfigError(refuse + "the development PIX_WEBHOOK_SECRET (in any spelling): set the bank's own")
    if estimated_entropy_bits(settings["PIX_WEBHOOK_KEY"]) < MIN_ENTROPY_BITS:
        raise ConfigError(refuse + "a PIX_WEBHOOK_SECRET that is not random: generate one as .env.example shows")
    if settings["PIX_MERCHANT"].key == DEVELOPMENT_PIX_KEY:
        raise ConfigError(refuse + "the example PIX_KEY: set the shop's own")
    api_key = settings["SHOP_API_KEY"] or ""
    if len(api_key) < MIN_API_KEY_LENGTH:
        raise ConfigError(f"APP_ENV=production needs a SHOP_API_KEY of at least {MIN_API_KEY_LENGTH} characters")
    if (
        settings["PIX_WEBHOOK_AUTH"] == "token"
        and estimated_entropy_bits(settings["PIX_WEBHOOK_TOKEN"].encode()) < MIN_ENTROPY_BITS
    ):
        raise ConfigError(refuse + "a PIX_WEBHOOK_TOKEN that is not random: generate one as .env.example shows")
    if estimated_entropy_bits(api_key.encode()) < MIN_ENTROPY_BITS:
        raise ConfigError(refuse + "a SHOP_API_KEY that is not random: generate one as .env.example shows")
    if not settings["TRUSTED_HOSTS"]:
        raise ConfigError("APP_ENV=production needs TRUSTED_HOSTS: page links are built from the Host header")
    if settings["PIX_EXPIRES_IN"] < MIN_PRODUCTION_EXPIRY:
        raise ConfigError(refuse + "a PIX_EXPIRATION_MINUTES under 1: a buyer needs time to open the bank's app")
    if settings["SOCKETIO_ASYNC_MODE"] != "eventlet":
        raise ConfigError(refuse + "SOCKETIO_ASYNC_MODE=threading: it runs Werkzeug's development server")
    if settings["DEBUG"]:
        raise ConfigError(refuse + "FLASK_DEBUG: the debugger runs any code a visitor sends")
