"""The simulator's settings: documented defaults, then environment variables, then a mapping (from tests)."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from psp_simulator.brcode import MAX_CITY_LENGTH, MAX_LOCATION_LENGTH, MAX_NAME_LENGTH, fold_to_ascii
from psp_simulator.formats import ISPB

DEFAULTS: dict[str, str] = {
    "SIM_HOST": "127.0.0.1",
    "SIM_PORT": "5100",
    "SIM_CLIENT_ID": "checkout-dev",
    "SIM_CLIENT_SECRET": "checkout-dev-secret",
    "SIM_TOKEN_SECONDS": "3600",
    "SIM_MERCHANT_NAME": "Loja Exemplo",
    "SIM_MERCHANT_CITY": "SAO PAULO",
    "SIM_ISPB": "12345678",
    "SIM_REFUND_SECONDS": "1",
    "SIM_TLS_CERT": "",
    "SIM_TLS_KEY": "",
    "SIM_TLS_CLIENT_CA": "",
    "SIM_WEBHOOK_CLIENT_CERT": "",
    "SIM_WEBHOOK_CA": "",
    "SIM_PUBLIC_URL": "",
    "SIM_WEBHOOK_URLS": "",
}
LOCATION_PATH = "/qr/v2/"
LOCATION_TOKEN_LENGTH = 32
WILDCARD_HOSTS = ("0.0.0.0", "::", "")  # noqa: S104 - compared with SIM_HOST, never bound


class SettingsError(ValueError):
    """A setting the simulator cannot run with; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Every knob of the simulator, parsed and checked once at start."""

    host: str
    port: int
    client_id: str
    client_secret: str
    token_seconds: int
    merchant_name: str
    merchant_city: str
    ispb: str
    refund_seconds: float
    tls_cert: str | None
    tls_key: str | None
    tls_client_ca: str | None
    webhook_client_cert: str | None
    webhook_ca: str | None
    public_url: str
    webhook_urls: dict[str, str] = field(default_factory=dict)

    @property
    def location_prefix(self) -> str:
        """Where locations live, without the scheme, as a BR Code carries them: host[:port]/qr/v2/."""
        return self.public_url.split("://", 1)[1] + LOCATION_PATH


def merged_config(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The defaults, replaced by whatever the environment sets, replaced by overrides."""
    values: dict[str, Any] = dict(DEFAULTS)
    values.update({name: os.environ[name] for name in DEFAULTS if name in os.environ})
    values.update(overrides or {})
    return values


def is_web_url(url: object) -> bool:
    """Whether url is an absolute http(s) URL with a host, the only kind a webhook or public URL can be."""
    if not isinstance(url, str) or not url.isprintable() or len(url) > 2048:
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def read_settings(values: Mapping[str, Any]) -> Settings:
    """Settings from merged values, or SettingsError naming the first variable that is wrong."""
    text = {name: str(values.get(name, "")).strip() for name in DEFAULTS}
    tls_cert, tls_key = _file(text, "SIM_TLS_CERT"), _file(text, "SIM_TLS_KEY")
    if bool(tls_cert) != bool(tls_key):
        raise SettingsError("SIM_TLS_CERT and SIM_TLS_KEY go together: set both to serve HTTPS, or neither")
    host, port = text["SIM_HOST"], _number(text, "SIM_PORT", int, 1, 65535)
    public_url = text["SIM_PUBLIC_URL"].rstrip("/") or _default_public_url(host, port, https=bool(tls_cert))
    if not is_web_url(public_url):
        raise SettingsError("SIM_PUBLIC_URL must be an http:// or https:// URL")
    settings = Settings(
        host=host,
        port=port,
        client_id=_required(text, "SIM_CLIENT_ID"),
        client_secret=_required(text, "SIM_CLIENT_SECRET"),
        token_seconds=_number(text, "SIM_TOKEN_SECONDS", int, 1, 86400 * 365),
        merchant_name=_bounded_ascii(text, "SIM_MERCHANT_NAME", MAX_NAME_LENGTH),
        merchant_city=_bounded_ascii(text, "SIM_MERCHANT_CITY", MAX_CITY_LENGTH),
        ispb=_ispb(text),
        refund_seconds=_number(text, "SIM_REFUND_SECONDS", float, 0, 86400),
        tls_cert=tls_cert,
        tls_key=tls_key,
        tls_client_ca=_file(text, "SIM_TLS_CLIENT_CA"),
        webhook_client_cert=_file(text, "SIM_WEBHOOK_CLIENT_CERT"),
        webhook_ca=_file(text, "SIM_WEBHOOK_CA"),
        public_url=public_url,
        webhook_urls=_webhook_urls(text["SIM_WEBHOOK_URLS"]),
    )
    if settings.tls_client_ca and not tls_cert:
        raise SettingsError("SIM_TLS_CLIENT_CA needs SIM_TLS_CERT and SIM_TLS_KEY: mutual TLS is TLS first")
    if len(settings.location_prefix) + LOCATION_TOKEN_LENGTH > MAX_LOCATION_LENGTH:
        raise SettingsError("SIM_PUBLIC_URL is too long: a location must fit in 77 characters")
    return settings


def _default_public_url(host: str, port: int, https: bool) -> str:
    # A server listening on every interface is reached, from this machine, on the loopback address.
    reachable = "127.0.0.1" if host in WILDCARD_HOSTS else host
    if ":" in reachable:
        reachable = f"[{reachable}]"
    return f"{'https' if https else 'http'}://{reachable}:{port}"


def _required(text: dict[str, str], name: str) -> str:
    if not text[name]:
        raise SettingsError(f"{name} must not be empty")
    return text[name]


def _number(text: dict[str, str], name: str, kind: type[int] | type[float], low: float, high: float) -> Any:
    try:
        number = kind(text[name])
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {text[name]!r}") from None
    if not low <= number <= high:
        raise SettingsError(f"{name} must be between {low} and {high}")
    return number


def _bounded_ascii(text: dict[str, str], name: str, max_length: int) -> str:
    folded = fold_to_ascii(text[name])
    if not 0 < len(folded) <= max_length:
        raise SettingsError(f"{name} must have 1 to {max_length} characters (a BR Code allows no more)")
    return folded


def _ispb(text: dict[str, str]) -> str:
    if not ISPB.fullmatch(text["SIM_ISPB"]):
        raise SettingsError("SIM_ISPB must be 8 digits or capital letters")
    return text["SIM_ISPB"]


def _file(text: dict[str, str], name: str) -> str | None:
    path = text[name]
    if path and not os.path.isfile(path):
        raise SettingsError(f"{name} names {path}, which is not a file")
    return path or None


def _webhook_urls(text: str) -> dict[str, str]:
    urls: dict[str, str] = {}
    for pair in filter(None, (part.strip() for part in text.split(","))):
        key, _, url = pair.partition("=")
        if not key or not is_web_url(url):
            raise SettingsError(f"SIM_WEBHOOK_URLS: {pair!r} is not chave=http(s)://url")
        urls[key] = url
    return urls
