"""The link that takes a buyer back to the shop, signed so the shop can show "paid" before its webhook arrives.

The shop checks `signature` = base64url(HMAC-SHA256(key, "{payment_id}.{order_id}.{status}.{ts}")), where key is
the bytes after `whsec_` of RETURN_URL_SECRET, and that `ts` is recent.
"""

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SIGNED = ("payment_id", "order_id", "status", "ts")


def _signature(key: bytes, fields: Mapping[str, str]) -> str:
    message = ".".join(fields[name] for name in SIGNED).encode()
    return base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode().rstrip("=")


def signed_return_url(url: str, key: bytes, payment_id: int, order_id: str | None, status: str, now: datetime) -> str:
    """url with payment_id, order_id, status, ts and signature added to whatever query it already has."""
    fields = {
        "payment_id": str(payment_id),
        "order_id": order_id or "",
        "status": status,
        "ts": str(int(now.timestamp())),
    }
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *fields.items(), ("signature", _signature(key, fields))]
    return urlunsplit(parts._replace(query=urlencode(query)))


def verify_return(query: Mapping[str, str], key: bytes, now: datetime, max_age_seconds: int = 600) -> bool:
    """What a shop does on its return page: the signature matches and the link is fresh."""
    if any(name not in query for name in (*SIGNED, "signature")):
        return False
    if not (query["ts"].isascii() and query["ts"].isdigit()):  # isdigit() alone takes "²", which int() refuses
        return False
    fresh = 0 <= now.timestamp() - int(query["ts"]) <= max_age_seconds
    return fresh and hmac.compare_digest(_signature(key, query), query["signature"])
