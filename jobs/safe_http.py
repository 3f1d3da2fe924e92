"""POSTs to the shop's endpoints that cannot be turned against this network (SSRF), time out, and never redirect.

The host is resolved here, every address it resolves to is checked, and the connection goes to the checked
address (with the name kept for the Host header and TLS), so a DNS answer cannot change between check and use.
The lookup and every read and write of one attempt share one deadline, so neither a name server that never
answers nor an endpoint that trickles its answer a byte at a time can hold a worker past its total (per-read
timeouts alone would let it).
"""

import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network
from urllib.parse import urlsplit, urlunsplit

import httpcore
import httpx

TIMEOUT = httpx.Timeout(10.0, connect=5.0)  # each connect, write and read, within the attempt's total
EXCERPT_BYTES = 2000


_deadline: ContextVar[float] = ContextVar("attempt_deadline", default=float("inf"))


class BlockedAddressError(Exception):
    """The endpoint resolves to an address this server must not call."""


@dataclass(frozen=True)
class Answer:
    """What the endpoint answered: status, its Retry-After (seconds), the first bytes of its body."""

    status_code: int
    retry_after: float | None
    excerpt: str


# IPv6 prefixes that carry an IPv4 address to a translator (NAT64 on IPv6-only networks): judged by that address.
NAT64_PREFIXES = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
# Deprecated or translation-only IPv6 ranges that Python still calls global: IPv4-compatible, IPv4-translated
# and site-local addresses.
NOT_PUBLIC_V6 = tuple(ipaddress.ip_network(prefix) for prefix in ("::/96", "::ffff:0:0:0/96", "fec0::/10"))


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether address reaches the public internet and only it: an IPv6 address carrying an IPv4 one (mapped,
    6to4, NAT64) is as public as that IPv4 address, so [64:ff9b::a9fe:a9fe] is the metadata service's."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and any(address in prefix for prefix in NAT64_PREFIXES):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return embedded.is_global
        if any(address in prefix for prefix in NOT_PUBLIC_V6):
            return False
    return address.is_global


_lookups: dict[tuple[str, int], Future] = {}
_lookups_lock = threading.Lock()


def _look_up(key: tuple[str, int], future: Future) -> None:
    try:
        future.set_result(socket.getaddrinfo(*key, type=socket.SOCK_STREAM))
    except BaseException as error:  # handed to every attempt waiting for this name
        future.set_exception(error)
    finally:
        with _lookups_lock:
            del _lookups[key]


def resolve(host: str, port: int) -> list[tuple]:
    """getaddrinfo for host, given up at the attempt's deadline. The lookup runs on a thread of its own, shared by
    every attempt at the same name while it runs: a name server that never answers holds that one thread (until
    the resolver gives up), never the worker's, and never more threads than names."""
    with _lookups_lock:
        future = _lookups.get((host, port))
        if future is None:
            future = Future()
            try:
                threading.Thread(target=_look_up, args=((host, port), future), daemon=True).start()
            except RuntimeError as error:  # no thread to spare: this attempt fails, and the next starts afresh
                raise OSError(f"no thread for the lookup ({error})") from None
            _lookups[host, port] = future  # before the lookup can end and remove it: it waits for this lock
    remaining = _within_deadline(None)
    try:
        return future.result(timeout=None if remaining == float("inf") else remaining)
    except FutureTimeoutError:
        raise BlockedAddressError(f"{host} did not resolve within the attempt's time") from None


def checked_address(host: str, port: int, allow_private: bool, allowed: list[IPv4Network | IPv6Network]) -> str:
    """An address of host that may be called: a public one, or one in allowed, or any when allow_private."""
    try:
        infos = resolve(host, port)
    except (OSError, UnicodeError) as error:  # UnicodeError: a label IDNA refuses (over 63 characters)
        raise BlockedAddressError(f"{host} does not resolve: {error}") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        if allow_private or is_public(address) or any(address in network for network in allowed):
            return str(address)
    # The address itself is not named: the answer would map this network's private names for whoever asks.
    raise BlockedAddressError(f"{host} resolves only to addresses that are not public")


def _within_deadline(timeout: float | None) -> float:
    remaining = _deadline.get() - time.monotonic()
    if remaining <= 0:
        raise httpcore.ReadTimeout("the attempt ran out of time")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the current attempt's deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self.stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.stream.read(max_bytes, _within_deadline(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.stream.write(buffer, _within_deadline(timeout))

    def close(self) -> None:
        self.stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self.stream.start_tls(ssl_context, server_hostname, _within_deadline(timeout)))

    def get_extra_info(self, info: str) -> object:
        return self.stream.get_extra_info(info)


class _DeadlineBackend(httpcore.SyncBackend):
    def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, **options: object
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(super().connect_tcp(host, port, _within_deadline(timeout), **options))  # type: ignore[arg-type]


class _DeadlineTransport(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__(retries=0)
        # httpx takes no network backend, so its pool is rebuilt around ours (same TLS context as httpx's default).
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=100,
            max_keepalive_connections=100,  # as many as may run at once: no reconnecting under load
            keepalive_expiry=5.0,
            network_backend=_DeadlineBackend(),
        )


def client() -> httpx.Client:
    """An HTTP client for endpoints: attempt deadlines, no proxies from the environment, no redirects."""
    return httpx.Client(transport=_DeadlineTransport(), timeout=TIMEOUT, follow_redirects=False, trust_env=False)


@contextmanager
def attempt_deadline(seconds: float) -> Iterator[None]:
    """Within this block, all network waits together end after seconds."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


@dataclass(frozen=True)
class Policy:
    """Where endpoints may be and how long one attempt may take."""

    allow_private: bool
    allowed: list[IPv4Network | IPv6Network]
    total_seconds: float


def post(client: httpx.Client, url: str, body: bytes, headers: dict[str, str], policy: Policy) -> Answer:
    """POST body to url through its checked address within policy.total_seconds, the lookup included; httpx
    errors and BlockedAddressError pass through."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    request_headers = headers | {"Host": parts.netloc.rsplit("@", 1)[-1]}
    with attempt_deadline(policy.total_seconds):
        address = checked_address(host, port, policy.allow_private, policy.allowed)
        literal = f"[{address}]" if ":" in address else address
        pinned = urlunsplit(parts._replace(netloc=f"{literal}:{port}"))
        sni = {"sni_hostname": host}
        with client.stream("POST", pinned, content=body, headers=request_headers, extensions=sni) as response:
            # Only the first bytes are kept: an endpoint that answers a gigabyte costs this worker nothing.
            excerpt = b""
            for chunk in response.iter_raw():
                excerpt += chunk
                if len(excerpt) >= EXCERPT_BYTES:
                    break
    text = excerpt[:EXCERPT_BYTES].decode("utf-8", "replace")
    return Answer(response.status_code, retry_after(response.headers.get("Retry-After")), text)


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds; an HTTP date counts as unknown)."""
    value = (value or "").strip()
    if not (value.isascii() and value.isdigit()):  # isdigit alone takes "²", which float() refuses
        return None
    return float(value)
