"""What APP_ENV=production refuses: development secrets, weak keys and the settings that open a door."""

from datetime import timedelta
from typing import Any

from config.api_pix import DEVELOPMENT_PSP_TOKEN
from config.shop import DEVELOPMENT_RETURN_SECRET
from config.values import MIN_API_KEY_LENGTH, MIN_ENTROPY_BITS, ConfigError
from pix.secret_strength import estimated_entropy_bits
from pix.signatures import DEVELOPMENT_WEBHOOK_SECRET, webhook_key

# The example key of the BCB manual: fine for a demo, refused in production.
DEVELOPMENT_PIX_KEY = "123e4567-e12b-12d1-a456-426655440000"
MIN_PRODUCTION_EXPIRY = timedelta(minutes=1)
REFUSE = "APP_ENV=production refuses "


def _random(secret: str | bytes | None) -> bool:
    data = secret.encode() if isinstance(secret, str) else secret or b""
    return estimated_entropy_bits(data) >= MIN_ENTROPY_BITS


def refuse_unsafe_production(settings: dict[str, Any]) -> None:
    """ConfigError naming the first setting production must not run with."""
    if settings["PIX_WEBHOOK_KEY"] == webhook_key(DEVELOPMENT_WEBHOOK_SECRET):
        raise ConfigError(REFUSE + "the development PIX_WEBHOOK_SECRET (in any spelling): set the bank's own")
    if not _random(settings["PIX_WEBHOOK_KEY"]):
        raise ConfigError(REFUSE + "a PIX_WEBHOOK_SECRET that is not random: generate one as .env.example shows")
    if settings["PIX_MERCHANT"].key == DEVELOPMENT_PIX_KEY:
        raise ConfigError(REFUSE + "the example PIX_KEY: set the shop's own")
    api_key = settings["SHOP_API_KEY"] or ""
    if len(api_key) < MIN_API_KEY_LENGTH:
        raise ConfigError(f"APP_ENV=production needs a SHOP_API_KEY of at least {MIN_API_KEY_LENGTH} characters")
    if settings["PIX_WEBHOOK_TOKEN"] == DEVELOPMENT_PSP_TOKEN:
        raise ConfigError(REFUSE + "the development PIX_WEBHOOK_TOKEN: generate one as .env.example shows")
    if settings["PIX_WEBHOOK_AUTH"] == "token" and not _random(settings["PIX_WEBHOOK_TOKEN"]):
        raise ConfigError(REFUSE + "a PIX_WEBHOOK_TOKEN that is not random: generate one as .env.example shows")
    if not _random(api_key):
        raise ConfigError(REFUSE + "a SHOP_API_KEY that is not random: generate one as .env.example shows")
    if not settings["TRUSTED_HOSTS"]:
        raise ConfigError("APP_ENV=production needs TRUSTED_HOSTS: page links are built from the Host header")
    if settings["PIX_EXPIRES_IN"] < MIN_PRODUCTION_EXPIRY:
        raise ConfigError(REFUSE + "a PIX_EXPIRATION_MINUTES under 1: a buyer needs time to open the bank's app")
    if settings["SOCKETIO_ASYNC_MODE"] == "threading":
        raise ConfigError(REFUSE + "SOCKETIO_ASYNC_MODE=threading: it runs Werkzeug's development server")
    if settings["DEBUG"]:
        raise ConfigError(REFUSE + "FLASK_DEBUG: the debugger runs any code a visitor sends")
    if settings["RETURN_URL_HOST_RULES"] and settings["RETURN_URL_KEY"] == webhook_key(DEVELOPMENT_RETURN_SECRET):
        raise ConfigError(REFUSE + "the development RETURN_URL_SECRET: buyers' returns would be forgeable")
    if settings["RETURN_URL_HOST_RULES"] and not _random(settings["RETURN_URL_KEY"]):
        raise ConfigError(REFUSE + "a RETURN_URL_SECRET that is not random: generate one as .env.example shows")
    if settings["ADMIN_TOKEN"] and not _random(settings["ADMIN_TOKEN"]):
        raise ConfigError(REFUSE + "an ADMIN_TOKEN that is not random: generate one as .env.example shows")
    if settings["METRICS_TOKEN"] and not _random(settings["METRICS_TOKEN"]):
        raise ConfigError(REFUSE + "a METRICS_TOKEN that is not random: generate one as .env.example shows")
    if settings["PIX_SIMULATOR_URL"]:
        raise ConfigError(REFUSE + "PIX_SIMULATOR_URL: buyers would be offered a fake bank")
    if settings["SAMPLE_SHOP_ENABLED"]:
        raise ConfigError(REFUSE + "SAMPLE_SHOP_ENABLED: it is a demo receiver open to anyone")
    if settings["WEBHOOK_ALLOW_PRIVATE"]:
        raise ConfigError(REFUSE + "WEBHOOK_ALLOW_PRIVATE: list endpoints' networks in WEBHOOK_ALLOWED_NETWORKS")
    psp = settings["PIX_PSP"]
    if psp is not None and not (psp.api_url.startswith("https://") and psp.token_url.startswith("https://")):
        raise ConfigError(REFUSE + "a PIX_PSP_API_URL or PIX_PSP_TOKEN_URL without https: the PSP's API is mutual TLS")
