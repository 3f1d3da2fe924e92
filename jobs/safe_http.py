"""POSTs to the shop's endpoints that cannot be turned against this network (SSRF), time out, and never redirect.

The host is resolved here, every address it resolves to is checked, and the connection goes to the checked
address (with the name kept for the Host header and TLS), so a DNS answer cannot change between check and use.
"""

import ipaddress
import socket
import time
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network
from urllib.parse import urlsplit, urlunsplit

import httpx

TIMEOUT = httpx.Timeout(10.0, connect=5.0)  # each connect, write and read
TOTAL_SECONDS = 15.0
EXCERPT_BYTES = 2000


class BlockedAddressError(Exception):
    """The endpoint resolves to an address this server must not call."""


@dataclass(frozen=True)
class Answer:
    """What the endpoint answered: status, its Retry-After (seconds), the first bytes of its body."""

    status_code: int
    retry_after: float | None
    excerpt: str


def checked_address(host: str, port: int, allow_private: bool, allowed: list[IPv4Network | IPv6Network]) -> str:
    """An address of host that may be called: a public one, or one in allowed, or any when allow_private."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise BlockedAddressError(f"{host} does not resolve: {error}") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        if allow_private or address.is_global or any(address in network for network in allowed):
            return str(address)
    raise BlockedAddressError(f"{host} resolves only to addresses that are not public: {addresses[0]}")


def post(
    client: httpx.Client, url: str, body: bytes, headers: dict[str, str], allow_private: bool, allowed: list
) -> Answer:
    """POST body to url through its checked address; httpx errors and BlockedAddressError pass through."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = checked_address(host, port, allow_private, allowed)
    literal = f"[{address}]" if ":" in address else address
    pinned = urlunsplit(parts._replace(netloc=f"{literal}:{port}"))
    request_headers = headers | {"Host": parts.netloc.rsplit("@", 1)[-1]}
    started = time.monotonic()
    with client.stream(
        "POST", pinned, content=body, headers=request_headers, extensions={"sni_hostname": host}, follow_redirects=False
    ) as response:
        # Only the first bytes are kept, and reading stops at the total deadline: an endpoint that answers
        # forever, or a gigabyte, costs this worker nothing.
        excerpt = b""
        for chunk in response.iter_bytes():
            excerpt += chunk
            if len(excerpt) >= EXCERPT_BYTES or time.monotonic() - started > TOTAL_SECONDS:
                break
    text = excerpt[:EXCERPT_BYTES].decode("utf-8", "replace")
    return Answer(response.status_code, retry_after(response.headers.get("Retry-After")), text)


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds; an HTTP date counts as unknown)."""
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())
