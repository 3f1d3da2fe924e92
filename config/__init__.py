"""Settings: defaults, then environment variables, then the mapping given to create_app."""

import os
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from limits import parse_many
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

from config.api_pix import api_pix_settings
from config.production import DEVELOPMENT_PIX_KEY, refuse_unsafe_production
from config.shop import DEVELOPMENT_RETURN_SECRET, shop_settings
from config.values import ConfigError, boolean, host_rules, one_of, positive_decimal, whole_number
from config.webhooks import webhook_settings
from pix.merchant import load_merchant
from pix.signatures import DEVELOPMENT_WEBHOOK_SECRET, webhook_key

__all__ = ["DEFAULTS", "DEVELOPMENT_PIX_KEY", "ConfigError", "load_settings"]

DEFAULTS: dict[str, Any] = {
    "APP_ENV": "development",
    "DATABASE_URL": None,
    "DATABASE_POOL_SIZE": 20,
    "DATABASE_NETWORK_TIMEOUT": 10,
    "AUTO_MIGRATE": None,
    "PIX_WEBHOOK_SECRET": DEVELOPMENT_WEBHOOK_SECRET,
    "SHOP_API_KEY": None,
    "METRICS_TOKEN": None,  # development: /metrics open; production: mounted only with a token
    "LOG_FORMAT": None,  # development: text; production: json
    "ADMIN_TOKEN": None,  # development: /admin open; production: mounted only with a token
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
    "SOCKETIO_SESSIONS_PER_ADDRESS": 1000,
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
    "PIX_WEBHOOK_AUTH": None,  # development: token, with the development token; production: off
    "PIX_WEBHOOK_PATH": "/webhooks/api-pix",
    "PIX_WEBHOOK_TOKEN": None,
    "PIX_WEBHOOK_ALLOWED_IPS": None,
    "PIX_MTLS_PROXIES": "127.0.0.1, ::1",
    "PIX_PROVIDER": "static",
    "PIX_PSP_API_URL": None,
    "PIX_PSP_TOKEN_URL": None,
    "PIX_PSP_CLIENT_ID": None,
    "PIX_PSP_CLIENT_SECRET": None,
    "PIX_PSP_CERTIFICATE": None,
    "PIX_PSP_CA_BUNDLE": None,
    "PIX_PSP_TIMEOUT": 10,
    "PIX_RECONCILE_SECONDS": 60,
    "PIX_SIMULATOR_URL": None,
    "RETURN_URL_HOSTS": None,
    "RETURN_URL_SECRET": DEVELOPMENT_RETURN_SECRET,
    "PIX_IDEMPOTENCY_HOURS": 24,
    "PUBLIC_BASE_URL": None,
    "HTTP_IDLE_TIMEOUT": 30,
    "HTTP_HEADER_TIMEOUT": 10,
    "SOCKETIO_PING_INTERVAL": 25,
    "SOCKETIO_PING_TIMEOUT": 20,
    "WEBHOOK_ALLOW_PRIVATE": None,  # development: allowed; production: refused
    "WEBHOOK_ALLOWED_NETWORKS": None,
    "PIX_WORKER_IN_SERVER": True,
    "WEBHOOK_WORKER_CONCURRENCY": 32,
    "WEBHOOK_TIMEOUT_SECONDS": 15,
    "WEBHOOK_SECRET_OVERLAP_HOURS": 24,
    "SAMPLE_SHOP_ENABLED": None,  # development: on; production: off
}
ENVIRONMENTS = ("development", "production")
ASYNC_MODES = ("eventlet", "gevent", "threading")
REDIS_SCHEMES = ("redis://", "rediss://")
# A Redis command is sent again, at once, only over a dropped connection (a restarted Redis); one that timed out is
# not (redis-py would send it ten times): a Redis that hangs must not hold requests up.
REDIS_RETRY = Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,))
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
    "SOCKETIO_SESSIONS_PER_ADDRESS": (1, 1_000_000),
    "MAX_CONTENT_LENGTH": (1024, 1024 * 1024),
    "PIX_CLOCK_TOLERANCE_SECONDS": (0, 600),
    "PIX_RECONCILE_SECONDS": (0, 3600),
    "HTTP_IDLE_TIMEOUT": (1, 3600),
    "DATABASE_NETWORK_TIMEOUT": (1, 600),
    "HTTP_HEADER_TIMEOUT": (1, 300),
    "SOCKETIO_PING_INTERVAL": (1, 300),
    "SOCKETIO_PING_TIMEOUT": (1, 300),
}


def load_settings(overrides: Mapping[str, Any] | None, instance_path: str) -> dict[str, Any]:
    """Merge defaults, environment and overrides, then derive and validate what the app uses."""
    settings = dict(DEFAULTS)
    settings.update({name: os.environ[name] for name in DEFAULTS if name in os.environ})
    settings.update(overrides or {})
    # A typo such as "prod" must not quietly start with the development secret.
    one_of(settings, "APP_ENV", ENVIRONMENTS)
    one_of(settings, "SOCKETIO_ASYNC_MODE", ASYNC_MODES)
    _database(settings, instance_path)
    _pix(settings)
    _deployment(settings)
    settings["DEBUG"] = boolean(settings.get("DEBUG", os.environ.get("FLASK_DEBUG") or False), "FLASK_DEBUG")
    if settings["APP_ENV"] == "production":
        refuse_unsafe_production(settings)
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
    pool = settings["DATABASE_POOL_SIZE"] = whole_number(settings["DATABASE_POOL_SIZE"], "DATABASE_POOL_SIZE", 5, 500)
    # A statement's parameters hold page tokens and payers' data: an error's message, which is logged, never does.
    options = {"hide_parameters": True}
    if not embedded:
        # Connections are kept, not opened per request: opening one costs far more than any query here.
        options |= {"pool_size": pool, "max_overflow": 10, "pool_pre_ping": False}
    settings.setdefault("SQLALCHEMY_ENGINE_OPTIONS", options)
    # Only the embedded database migrates itself; shared databases migrate once, by `flask db upgrade`.
    auto = settings["AUTO_MIGRATE"]
    settings["AUTO_MIGRATE"] = embedded if auto is None else boolean(auto, "AUTO_MIGRATE")


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
    maximum = positive_decimal(settings["PIX_MAX_VALUE"], "PIX_MAX_VALUE")
    if maximum < Decimal("0.01") or maximum > LARGEST_AMOUNT or maximum != maximum.quantize(Decimal("0.01")):
        raise ConfigError(f"PIX_MAX_VALUE must be 0.01 to {LARGEST_AMOUNT} with at most 2 decimals, got {maximum}")
    settings["PIX_MAX_VALUE"] = maximum
    minutes = positive_decimal(settings["PIX_EXPIRATION_MINUTES"], "PIX_EXPIRATION_MINUTES")
    if minutes > 7 * 24 * 60:
        raise ConfigError(f"PIX_EXPIRATION_MINUTES must be at most a week (10080), got {minutes}")
    settings["PIX_EXPIRES_IN"] = timedelta(minutes=float(minutes))
    try:
        ZoneInfo(settings["DISPLAY_TIMEZONE"])
    except (ValueError, ZoneInfoNotFoundError):
        raise ConfigError(f"DISPLAY_TIMEZONE is not a known time zone: {settings['DISPLAY_TIMEZONE']!r}") from None


def _deployment(settings: dict[str, Any]) -> None:
    log_format = settings["LOG_FORMAT"] or ("json" if settings["APP_ENV"] == "production" else "text")
    if log_format not in ("json", "text"):
        raise ConfigError(f"LOG_FORMAT must be json or text, got {log_format!r}")
    settings["LOG_FORMAT"] = log_format
    for name in ("RATELIMIT_ENABLED", "API_DOCS_ENABLED"):
        settings[name] = boolean(settings[name], name)
    queue = settings["SOCKETIO_MESSAGE_QUEUE"]
    if queue and not queue.startswith(REDIS_SCHEMES):
        raise ConfigError(f"SOCKETIO_MESSAGE_QUEUE must be a redis:// or rediss:// URL, got {queue!r}")
    # Several processes must count together, so share the Redis that already carries their events.
    storage = settings["RATELIMIT_STORAGE_URI"] = settings["RATELIMIT_STORAGE_URI"] or queue or "memory://"
    if not storage.startswith(("memory://", "redis+unix://", *REDIS_SCHEMES)):
        raise ConfigError(f"RATELIMIT_STORAGE_URI must be memory:// or a Redis URL, got {storage!r}")
    # Redis gone must stop no payment: each process then counts alone, in memory, until Redis answers again.
    settings["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] = True
    if storage.startswith("redis"):
        options = {"socket_connect_timeout": 1, "socket_timeout": 1, "retry": REDIS_RETRY}
        settings["RATELIMIT_STORAGE_OPTIONS"] = options
    settings["RATELIMIT_HEADERS_ENABLED"] = False  # routes/rate_limit_headers.py sets them
    for name in ("PIX_CREATE_RATE_LIMIT", "PIX_AUTH_FAILURE_RATE_LIMIT", "PIX_CONFIRM_RATE_LIMIT"):
        try:
            parse_many(settings[name])
        except ValueError:
            raise ConfigError(f"{name} must read like '60 per minute', got {settings[name]!r}") from None
    for name, (low, high) in WHOLE_NUMBERS.items():
        settings[name] = whole_number(settings[name], name, low, high)
    settings["PIX_CLOCK_TOLERANCE"] = timedelta(seconds=settings["PIX_CLOCK_TOLERANCE_SECONDS"])
    _trusted_hosts(settings)
    api_pix_settings(settings)
    shop_settings(settings)
    webhook_settings(settings)


def _trusted_hosts(settings: dict[str, Any]) -> None:
    # page_url and friends are built from the Host header: only answer to the shop's own names and ports.
    rules = settings["TRUSTED_HOST_RULES"] = host_rules(settings["TRUSTED_HOSTS"], "TRUSTED_HOSTS")
    # Flask checks the names too (it ignores ports), so nothing builds a link from an unchecked Host.
    settings["TRUSTED_HOSTS"] = sorted({name for name, _ in rules}) or None
