"""The shop's webhook endpoints: create, change, enable and disable (holding their deliveries), rotate secrets."""

import base64
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func

from db_models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint, db
from db_models.base import now_utc
from live_status import iso_utc

# Immediately, then as the Standard Webhooks example: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h (~3 days).
DEFAULT_RETRY_SCHEDULE = [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]
SECRET_BYTES = 24
MAX_OLD_SECRETS = 10


def new_secret() -> str:
    """A Standard Webhooks secret: whsec_ and the base64 of random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def create_endpoint(**fields: Any) -> WebhookEndpoint:
    """A new enabled endpoint with a fresh secret; fields as WebhookEndpoint takes them."""
    fields = {"retry_schedule": DEFAULT_RETRY_SCHEDULE, "enabled": True, "headers": {}} | fields
    endpoint = WebhookEndpoint(secrets=[{"secret": new_secret(), "expires_at": None}], **fields)
    db.session.add(endpoint)
    db.session.commit()
    return endpoint


def endpoint_by_id(endpoint_id: int) -> WebhookEndpoint | None:
    """One endpoint, or None."""
    return db.session.get(WebhookEndpoint, endpoint_id)


def all_endpoints() -> list[WebhookEndpoint]:
    """Every endpoint, oldest first."""
    return list(db.session.execute(db.select(WebhookEndpoint).order_by(WebhookEndpoint.id)).scalars())


def update_endpoint(endpoint: WebhookEndpoint, **changes: Any) -> WebhookEndpoint:
    """Change an endpoint; disabling holds its pending deliveries, enabling sends what was held, in order."""
    _change(endpoint, **changes)
    db.session.commit()
    return endpoint


def _change(endpoint: WebhookEndpoint, **changes: Any) -> None:
    enabled = changes.pop("enabled", None)
    for name, value in changes.items():
        setattr(endpoint, name, value)
    if enabled is not None and enabled != endpoint.enabled:
        endpoint.enabled, endpoint.disabled_reason = enabled, None if enabled else "disabled by the shop"
        held, pending = (DeliveryStatus.HELD, DeliveryStatus.PENDING)
        before, after = (held, pending) if enabled else (pending, held)
        db.session.execute(
            db.update(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == before)
            .values(status=after, next_attempt_at=now_utc(), attempts=0 if enabled else WebhookDelivery.attempts)
        )


def disable_for_gone(endpoint_id: int, reason: str) -> None:
    """The endpoint answered 410 Gone: stop sending, keep every delivery for when the shop enables it again;
    in the caller's transaction."""
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is not None and endpoint.enabled:
        _change(endpoint, enabled=False)
        endpoint.disabled_reason = reason[:200]


def rotate_secret(endpoint: WebhookEndpoint, old_ones_last: timedelta) -> str:
    """A new secret; the unexpired old ones keep signing for old_ones_last, so the shop can switch without a gap."""
    now = now_utc()
    last_until = now + old_ones_last
    # An old secret stops at its own expiry or at this rotation's, whichever comes first: 0 h retires them now.
    kept = [
        secret | {"expires_at": iso_utc(min(last_until, _expiry(secret)))}
        for secret in live_secrets(endpoint.secrets, now)
        if min(last_until, _expiry(secret)) > now
    ][-MAX_OLD_SECRETS:]
    fresh = new_secret()
    endpoint.secrets = [*kept, {"secret": fresh, "expires_at": None}]
    db.session.commit()
    return fresh


def _expiry(secret: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(secret["expires_at"]) if secret["expires_at"] else datetime.max.replace(tzinfo=UTC)


def live_secrets(secrets: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Of an endpoint's secrets, those that have not expired ({"secret", "expires_at"}), newest last: every one
    of them signs each delivery."""
    return [secret for secret in secrets if _expiry(secret) > now]


def delete_endpoint(endpoint: WebhookEndpoint) -> None:
    """Delete an endpoint with its deliveries and their attempts (the events themselves stay)."""
    deliveries = db.select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint.id)
    # Locked first, in the order the worker locks them: a worker recording an attempt at one finishes before,
    # and its attempt goes with the rest (or it finds the delivery gone and records nothing).
    db.session.execute(deliveries.order_by(WebhookDelivery.id).with_for_update()).all()
    db.session.execute(db.delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(deliveries)))
    db.session.execute(db.delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    db.session.delete(endpoint)
    db.session.commit()


def endpoint_stats(endpoint_id: int, recent: int = 100) -> dict[str, Any]:
    """Deliveries by status, and the success rate and median latency of the last recent attempts."""
    counts = dict(
        db.session.execute(
            db.select(WebhookDelivery.status, func.count())
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .group_by(WebhookDelivery.status)
        ).all()
    )
    attempts = db.session.execute(
        db.select(WebhookAttempt.status_code, WebhookAttempt.duration_ms)
        .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookAttempt.id.desc())
        .limit(recent)
    ).all()
    ok = [duration for status, duration in attempts if status is not None and 200 <= status < 300]
    latencies = sorted(duration for _, duration in attempts)
    return {
        "deliveries": {status.value: counts.get(status.value, 0) for status in DeliveryStatus},
        "recent_attempts": len(attempts),
        "success_rate": round(len(ok) / len(attempts), 3) if attempts else None,
        "median_latency_ms": latencies[len(latencies) // 2] if latencies else None,
    }
