"""Reading setting values: words, numbers, lists and networks, with errors that name the variable."""

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Any

from middleware import split_host

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}
MIN_API_KEY_LENGTH = 24
# 16 random bytes score about 60 bits by estimated_entropy_bits; typed and patterned secrets far less.
MIN_ENTROPY_BITS = 48
# A DNS name, a leading dot for "and its subdomains", an IPv4 address or a bracketed IPv6 literal; never "*".
DNS_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
HOST_NAME = re.compile(rf"\.?{DNS_LABEL}(\.{DNS_LABEL})*|\[[0-9A-Fa-f:.]+\]")


class ConfigError(RuntimeError):
    """The settings are unusable or unsafe; the app refuses to start."""


def one_of(settings: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> None:
    """ConfigError unless settings[name] is one of allowed: a typo such as "prod" must not start quietly."""
    if settings[name] not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {settings[name]!r}")


def boolean(raw: object, name: str) -> bool:
    """true/false, yes/no, on/off, 1/0."""
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word in TRUE_WORDS | FALSE_WORDS:
        return word in TRUE_WORDS
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def whole_number(raw: object, name: str, low: int, high: int) -> int:
    """A whole number within [low, high]."""
    try:
        number = int(str(raw).strip())
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= number <= high:
        raise ConfigError(f"{name} must be from {low} to {high}, got {number}")
    return number


def positive_decimal(raw: object, name: str) -> Decimal:
    """A finite decimal number above zero, exact."""
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not value.is_finite() or value <= 0:
        raise ConfigError(f"{name} must be greater than zero, got {raw!r}")
    return value


def listed(raw: object) -> list[str]:
    """The items of a comma-separated setting (or of a list given in the mapping)."""
    if not raw:
        return []
    return [item.strip() for item in (raw.split(",") if isinstance(raw, str) else raw) if item.strip()]


def networks(raw: object, name: str) -> list[IPv4Network | IPv6Network]:
    """IP addresses or CIDR networks."""
    try:
        return [ip_network(item, strict=False) for item in listed(raw)]
    except ValueError:
        raise ConfigError(f"{name} must list IP addresses or networks like 34.193.116.226/32, got {raw!r}") from None


def host_rules(raw: object, name: str) -> list[tuple[str, int | None]]:
    """(host name, port or None) for each entry of a comma-separated list of host names with optional ports."""
    rules = []
    for entry in listed(raw):
        host, port = split_host(entry)
        if not host or not HOST_NAME.fullmatch(host):
            raise ConfigError(f"{name} entries are host names with an optional :port, got {entry!r}")
        rules.append((host.lower(), port))
    return rules
