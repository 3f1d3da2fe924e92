"""The shop's webhook API: its endpoints, their delivery logs, and the dead letters to send again."""

import re
from datetime import timedelta

from flask import Blueprint, Response, current_app, jsonify, request

from db_models import DeliveryStatus, WebhookEndpoint
from db_models.base import now_utc
from extensions import limiter
from payloads import delivery_json, endpoint_json
from pix.instants import parse_instant
from repository import deliveries, webhook_endpoints
from routes.api import shop_key_is_valid
from routes.converters import RowIdConverter
from routes.endpoint_request import endpoint_fields
from routes.errors import ApiError
from routes.json_body import json_object, optional_whole

bp = Blueprint("webhook_endpoints", __name__, url_prefix="/webhooks")
limiter.limit(
    lambda: current_app.config["PIX_AUTH_FAILURE_RATE_LIMIT"], exempt_when=shop_key_is_valid, scope="auth-failures"
)(bp)
MAX_LIST = 200
ASCII_WHOLE = re.compile("[0-9]{1,10}")


@bp.before_request
def _shop_only() -> None:
    if not shop_key_is_valid():
        raise ApiError(401, "invalid_api_key", "send the shop's key as Authorization: Bearer <SHOP_API_KEY>")


def _endpoint(endpoint_id: int) -> WebhookEndpoint:
    endpoint = webhook_endpoints.endpoint_by_id(endpoint_id)
    if endpoint is None:
        raise ApiError(404, "endpoint_not_found", "no webhook endpoint has this id")
    return endpoint


def _whole_arg(name: str, default: int | None, maximum: int) -> int | None:
    """?name= as a whole number from 1 to maximum (ASCII digits only), the default when absent, else a 400."""
    raw = request.args.get(name)
    if raw is None:
        return default
    if not ASCII_WHOLE.fullmatch(raw) or not 1 <= int(raw) <= maximum:
        raise ApiError(400, "invalid_field", f"{name} must be a whole number from 1 to {maximum}", name)
    return int(raw)


def _limit() -> int:
    return _whole_arg("limit", 50, MAX_LIST)  # type: ignore[return-value]


@bp.post("/endpoints")
def create_endpoint() -> tuple[Response, int]:
    """Add an endpoint; the answer holds its signing secret."""
    endpoint = webhook_endpoints.create_endpoint(**endpoint_fields(json_object(), partial=False))
    return jsonify(endpoint=endpoint_json(endpoint), secret=endpoint.secrets[-1]["secret"]), 201


@bp.get("/endpoints")
def list_endpoints() -> Response:
    """Every endpoint."""
    return jsonify(endpoints=[endpoint_json(endpoint) for endpoint in webhook_endpoints.all_endpoints()])


@bp.get("/endpoints/<row_id:endpoint_id>")
def show_endpoint(endpoint_id: int) -> Response:
    """One endpoint, with its deliveries by status, success rate and median latency."""
    endpoint = _endpoint(endpoint_id)
    return jsonify(endpoint=endpoint_json(endpoint), stats=webhook_endpoints.endpoint_stats(endpoint.id))


@bp.patch("/endpoints/<row_id:endpoint_id>")
def change_endpoint(endpoint_id: int) -> Response:
    """Change what is sent; "enabled": false holds its events, true sends them on, in order."""
    endpoint = _endpoint(endpoint_id)
    changes = endpoint_fields(json_object(), partial=True)
    return jsonify(endpoint=endpoint_json(webhook_endpoints.update_endpoint(endpoint, **changes)))


@bp.delete("/endpoints/<row_id:endpoint_id>")
def delete_endpoint(endpoint_id: int) -> tuple[str, int]:
    """Remove an endpoint and its delivery log (disable it instead to keep its events)."""
    webhook_endpoints.delete_endpoint(_endpoint(endpoint_id))
    return "", 204


@bp.get("/endpoints/<row_id:endpoint_id>/secret")
def show_secret(endpoint_id: int) -> Response:
    """The endpoint's signing secrets that have not expired, newest last."""
    return jsonify(secrets=webhook_endpoints.live_secrets(_endpoint(endpoint_id).secrets, now_utc()))


@bp.post("/endpoints/<row_id:endpoint_id>/rotate-secret")
def rotate_secret(endpoint_id: int) -> Response:
    """A new secret; the old ones keep signing for a while (hours in the body, else WEBHOOK_SECRET_OVERLAP_HOURS)."""
    endpoint = _endpoint(endpoint_id)
    body = json_object() if request.get_data() else {}
    hours = optional_whole(body, "old_secret_hours", 0, 720)
    if hours is None:
        hours = current_app.config["WEBHOOK_SECRET_OVERLAP_HOURS"]
    secret = webhook_endpoints.rotate_secret(endpoint, timedelta(hours=hours))
    return jsonify(endpoint=endpoint_json(endpoint), secret=secret)


@bp.get("/endpoints/<row_id:endpoint_id>/deliveries")
def endpoint_deliveries(endpoint_id: int) -> Response:
    """The delivery log: the latest deliveries (of one status, with ?status=), each with every attempt."""
    endpoint = _endpoint(endpoint_id)
    raw = request.args.get("status")
    if raw is not None and raw not in set(DeliveryStatus):
        statuses = ", ".join(DeliveryStatus)
        raise ApiError(400, "invalid_field", f"status must be one of {statuses}", "status")
    log = deliveries.deliveries_of(endpoint.id, DeliveryStatus(raw) if raw else None, _limit())
    return jsonify(deliveries=[delivery_json(delivery, attempts=attempts) for delivery, attempts in log])


@bp.get("/deliveries/<row_id:delivery_id>")
def show_delivery(delivery_id: int) -> Response:
    """One delivery: its event as sent, and every attempt."""
    parts = deliveries.delivery_parts(delivery_id)
    if parts is None:
        raise ApiError(404, "delivery_not_found", "no delivery has this id")
    delivery, event, _endpoint_row = parts
    [(_, attempts)] = deliveries.with_attempts([delivery])
    return jsonify(delivery=delivery_json(delivery, event, attempts))


@bp.post("/deliveries/<row_id:delivery_id>/redeliver")
def redeliver(delivery_id: int) -> tuple[Response, int]:
    """Send a dead (or delivered) delivery again, from a fresh retry schedule."""
    if deliveries.delivery_parts(delivery_id) is None:
        raise ApiError(404, "delivery_not_found", "no delivery has this id")
    if not deliveries.redeliver(delivery_id):
        raise ApiError(409, "delivery_not_finished", "this delivery is still pending or held: it will be sent")
    delivery, event, _endpoint_row = deliveries.delivery_parts(delivery_id)  # type: ignore[misc]
    return jsonify(delivery=delivery_json(delivery, event)), 202


@bp.get("/dead-letters")
def dead_letters() -> Response:
    """Deliveries whose retries are spent, newest first (?endpoint_id= for one endpoint's)."""
    endpoint_id = _whole_arg("endpoint_id", None, RowIdConverter.MAX)
    letters = deliveries.dead_letters(endpoint_id, _limit())
    return jsonify(dead_letters=[delivery_json(delivery, event) for delivery, event in letters])


@bp.post("/dead-letters/redeliver")
def redeliver_dead_letters() -> tuple[Response, int]:
    """Send again every dead letter whose event happened since a time: {"since": "2026-12-01T00:00:00Z"}."""
    body = json_object()
    moment = parse_instant(body.get("since"))
    if moment is None:
        message = "since must be an ISO 8601 time with its offset, like 2026-12-01T00:00:00Z"
        raise ApiError(400, "invalid_field", message, "since")
    endpoint_id = optional_whole(body, "endpoint_id", 1, RowIdConverter.MAX)
    return jsonify(redelivered=deliveries.redeliver_dead_since(moment, endpoint_id)), 202
