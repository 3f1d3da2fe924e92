"""GET /metrics for Prometheus: behind METRICS_TOKEN when one is set (production mounts it only then)."""

import hmac
import logging
import time

from flask import Blueprint, Flask, Response, current_app, g, request

import metrics
from log_setup import request_line
from repository.deliveries import queue_state
from routes.errors import ApiError

bp = Blueprint("metrics", __name__)
access = logging.getLogger("pix.http")  # one line per request, by route pattern: never a token


@bp.get("/metrics")
def scrape() -> Response:
    """Every metric in the Prometheus text format."""
    token = current_app.config["METRICS_TOKEN"]
    sent = request.headers.get("Authorization", "")
    if token and not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        raise ApiError(401, "invalid_metrics_token", "send Authorization: Bearer <METRICS_TOKEN>")
    body = metrics.render(metrics.WebhookQueue(queue_state))
    return Response(body, mimetype="text/plain; version=0.0.4; charset=utf-8")


def _start_timer() -> None:
    g.request_started = time.perf_counter()


def _observe(response: Response) -> Response:
    method, route = request_line()
    elapsed = time.perf_counter() - g.get("request_started", time.perf_counter())
    metrics.HTTP_REQUESTS.labels(method, route, str(response.status_code)).observe(elapsed)
    fields = {"method": method, "route": route, "status": response.status_code}
    fields["duration_ms"] = round(elapsed * 1000, 2)
    access.info("%s %s %s in %.1f ms", method, route, response.status_code, elapsed * 1000, extra=fields)
    if response.status_code == 429:
        metrics.RATE_LIMITED.labels(route).inc()
    return response


def register_request_metrics(app: Flask) -> None:
    """Time and log every HTTP request by method, route pattern and status, and count the 429s."""
    app.before_request(_start_timer)
    app.after_request(_observe)
