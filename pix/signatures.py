"""Standard Webhooks signatures (webhook-id, webhook-timestamp, webhook-signature) over the raw body."""

import base64
import binascii
import uuid
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

# Documented in the README so the demo works out of the box; production refuses to start with it.
DEVELOPMENT_WEBHOOK_SECRET = "whsec_ZGV2ZWxvcG1lbnQtb25seS1waXgtd2ViaG9vay1zZWNyZXQ="  # noqa: S105
SECRET_PREFIX = "whsec_"  # noqa: S105
MIN_SECRET_BYTES = 16


class InvalidSignatureError(Exception):
    """The webhook is unsigned, signed with another secret, tampered with, or outside the time tolerance."""


def webhook_key(secret: str) -> bytes:
    """The key bytes of a whsec_ secret; ValueError unless it is whsec_ and the base64 of at least 16 bytes.

    Compare keys, never spellings: base64 has several spellings of the same bytes.
    """
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a webhook secret starts with whsec_")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error as error:
        raise ValueError("a webhook secret is base64 after whsec_") from error
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(f"a webhook secret holds at least {MIN_SECRET_BYTES} bytes")
    return key


def verify_webhook(secret: str, body: bytes, headers: dict[str, str]) -> None:
    """Raise InvalidSignatureError unless body and headers carry a valid, fresh signature made with secret."""
    webhook = Webhook(secret)
    try:
        webhook.verify(body, headers, json_parse=False)
    except (WebhookVerificationError, ValueError) as error:
        # ValueError covers malformed headers and a body that is not UTF-8, which the library lets through.
        raise InvalidSignatureError(str(error)) from error


def sign_webhook(
    secret: str, body: bytes, *, message_id: str | None = None, timestamp: datetime | None = None
) -> dict[str, str]:
    """Headers that make body a valid webhook for secret: used by the CLI, the tests and third parties."""
    message_id = message_id or f"msg_{uuid.uuid4().hex}"
    timestamp = timestamp or datetime.now(UTC)
    signature = Webhook(secret).sign(message_id, timestamp, body.decode("utf-8"))
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
    }
