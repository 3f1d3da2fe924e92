"""Settings of the API Pix: how the PSP's webhook proves itself, and how this checkout reaches the PSP."""

import re
from ipaddress import ip_address
from pathlib import Path
from typing import Any

from config.values import MIN_API_KEY_LENGTH, ConfigError, listed, networks, one_of, positive_decimal
from pix.psp_client import PspSettings

# Documented in the README so the simulator works out of the box; production refuses it.
DEVELOPMENT_PSP_TOKEN = "development-only-psp-webhook-token"  # noqa: S105
PROVIDERS = ("static", "api-pix")
WEBHOOK_AUTH_MODES = ("off", "mtls", "token")
WEBHOOK_PATH = re.compile(r"(/[A-Za-z0-9._~-]+)+")
BASE_URL = re.compile(r"https?://[A-Za-z0-9.:\[\]-]+")
MAX_PSP_TIMEOUT = 60


def api_pix_settings(settings: dict[str, Any]) -> None:
    """Check the webhook's and the PSP client's settings, and derive what the app uses."""
    _webhook(settings)
    one_of(settings, "PIX_PROVIDER", PROVIDERS)
    settings["PIX_PSP"] = _psp(settings) if settings["PIX_PROVIDER"] == "api-pix" else None
    simulator = (settings["PIX_SIMULATOR_URL"] or "").rstrip("/")
    if simulator and not BASE_URL.fullmatch(simulator):
        raise ConfigError(f"PIX_SIMULATOR_URL must be a base URL like http://127.0.0.1:5100, got {simulator!r}")
    settings["PIX_SIMULATOR_URL"] = simulator or None


def _webhook(settings: dict[str, Any]) -> None:
    if settings["PIX_WEBHOOK_AUTH"] is None:
        # The demo and the simulator work out of the box; production mounts nothing it was not told to.
        development = settings["APP_ENV"] == "development"
        settings["PIX_WEBHOOK_AUTH"] = "token" if development else "off"
        if development and not settings["PIX_WEBHOOK_TOKEN"]:
            settings["PIX_WEBHOOK_TOKEN"] = DEVELOPMENT_PSP_TOKEN
    one_of(settings, "PIX_WEBHOOK_AUTH", WEBHOOK_AUTH_MODES)
    if not WEBHOOK_PATH.fullmatch(settings["PIX_WEBHOOK_PATH"]):
        raise ConfigError(f"PIX_WEBHOOK_PATH must look like /webhooks/api-pix, got {settings['PIX_WEBHOOK_PATH']!r}")
    token = settings["PIX_WEBHOOK_TOKEN"] or ""
    if settings["PIX_WEBHOOK_AUTH"] == "token" and (len(token) < MIN_API_KEY_LENGTH or not token.isascii()):
        raise ConfigError(f"PIX_WEBHOOK_AUTH=token needs a PIX_WEBHOOK_TOKEN of {MIN_API_KEY_LENGTH}+ characters")
    settings["PIX_WEBHOOK_ALLOWED_NETWORKS"] = networks(settings["PIX_WEBHOOK_ALLOWED_IPS"], "PIX_WEBHOOK_ALLOWED_IPS")
    try:
        settings["PIX_MTLS_PROXIES"] = {str(ip_address(item)) for item in listed(settings["PIX_MTLS_PROXIES"])}
    except ValueError:
        raise ConfigError(f"PIX_MTLS_PROXIES must list IP addresses, got {settings['PIX_MTLS_PROXIES']!r}") from None


def _psp(settings: dict[str, Any]) -> PspSettings:
    api_url = (settings["PIX_PSP_API_URL"] or "").rstrip("/")
    if not api_url.startswith(("https://", "http://")):
        raise ConfigError("PIX_PROVIDER=api-pix needs PIX_PSP_API_URL, the PSP's API Pix base URL")
    for name in ("PIX_PSP_CLIENT_ID", "PIX_PSP_CLIENT_SECRET"):
        if not settings[name]:
            raise ConfigError(f"PIX_PROVIDER=api-pix needs {name}, the OAuth2 credentials the PSP issued")
    for name in ("PIX_PSP_CERTIFICATE", "PIX_PSP_CA_BUNDLE"):
        if settings[name] and not Path(settings[name]).is_file():
            raise ConfigError(f"{name} must name a PEM file, and {settings[name]!r} is not one")
    timeout = positive_decimal(settings["PIX_PSP_TIMEOUT"], "PIX_PSP_TIMEOUT")
    if timeout > MAX_PSP_TIMEOUT:
        raise ConfigError(f"PIX_PSP_TIMEOUT must be at most {MAX_PSP_TIMEOUT} seconds, got {timeout}")
    return PspSettings(
        api_url=api_url,
        token_url=settings["PIX_PSP_TOKEN_URL"] or f"{api_url}/oauth/token",
        client_id=settings["PIX_PSP_CLIENT_ID"],
        client_secret=settings["PIX_PSP_CLIENT_SECRET"],
        certificate=settings["PIX_PSP_CERTIFICATE"] or None,
        ca_bundle=settings["PIX_PSP_CA_BUNDLE"] or None,
        timeout=float(timeout),
    )
