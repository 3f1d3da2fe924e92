"""Settings of the shop's side: where buyers may return, how that return is signed, links without a request."""

import os
import re
from typing import Any

from config.values import ConfigError, host_rules, whole_number
from pix.signatures import webhook_key

# Documented in the README so the demo's return works; production refuses it once return URLs are enabled.
DEVELOPMENT_RETURN_SECRET = "whsec_ZGV2ZWxvcG1lbnQtb25seS1yZXR1cm4tdXJsLXNlY3JldA=="  # noqa: S105
BASE_URL = re.compile(r"https?://[A-Za-z0-9.:\[\]-]+")


def shop_settings(settings: dict[str, Any]) -> None:
    """Check RETURN_URL_HOSTS, RETURN_URL_SECRET, PIX_IDEMPOTENCY_HOURS and PUBLIC_BASE_URL."""
    settings["RETURN_URL_HOST_RULES"] = host_rules(settings["RETURN_URL_HOSTS"], "RETURN_URL_HOSTS")
    try:
        settings["RETURN_URL_KEY"] = webhook_key(settings["RETURN_URL_SECRET"])
    except ValueError as error:
        raise ConfigError(f"RETURN_URL_SECRET is unusable: {error}") from None
    settings["PIX_IDEMPOTENCY_HOURS"] = whole_number(settings["PIX_IDEMPOTENCY_HOURS"], "PIX_IDEMPOTENCY_HOURS", 1, 720)
    base = (settings["PUBLIC_BASE_URL"] or "").rstrip("/")
    if base and not BASE_URL.fullmatch(base):
        raise ConfigError(f"PUBLIC_BASE_URL must be a base URL like https://pagamentos.example.com, got {base!r}")
    settings["PUBLIC_BASE_URL"] = base or None
    # Where links point when there is no request and no PUBLIC_BASE_URL: the first trusted host, or this server.
    # Production serves behind TLS; development's `python app.py` answers plain HTTP on that host too.
    rules = settings["TRUSTED_HOST_RULES"]
    host, port = rules[0] if rules and not rules[0][0].startswith(".") else (None, None)
    scheme = "https" if settings["APP_ENV"] == "production" else "http"
    # Where `python app.py` listens with these settings: the CLI's default for reaching the running server.
    settings["LISTEN_URL"] = f"http://{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
    settings["LOCAL_BASE_URL"] = f"{scheme}://{host}{f':{port}' if port else ''}" if host else settings["LISTEN_URL"]
