"""Logs: one line per event worth knowing, as JSON for log stores (production) or text for people (development),
each line carrying the id of the request it belongs to (X-Request-ID, taken or made, and echoed back)."""

import logging
import re
import uuid

from flask import Flask, Response, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
TEXT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
JSON_FIELDS = "%(levelname)s %(name)s %(message)s %(request_id)s"


class RequestIdFilter(logging.Filter):
    """Stamp each record with its request's id ("-" outside a request: the worker, the CLI)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def configure_logging(log_format: str, level: int = logging.INFO) -> None:
    """Send every log line to stderr in log_format ("json" or "text")."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    if log_format == "json":
        fields = {"levelname": "level", "name": "logger", "asctime": "time"}
        handler.setFormatter(JsonFormatter(JSON_FIELDS, rename_fields=fields, timestamp="time"))
    else:
        handler.setFormatter(logging.Formatter(TEXT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Every PSP call would be a line; the client logs the ones that fail.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def request_line() -> tuple[str, str]:
    """The request's method and route pattern, safe for a log line or a metric label: never the path, which may
    hold a payment's token, and never a method of the client's own (any token is one to HTTP: each would be a
    series kept for good, and a log line of whatever bytes it chose)."""
    method = request.method if request.method in HTTP_METHODS else "other"
    return method, request.url_rule.rule if request.url_rule else "unmatched"


def _take_request_id() -> None:
    sent = request.headers.get("X-Request-ID", "")
    g.request_id = sent if REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex


def _echo_request_id(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("request_id", "")
    return response


def register_request_ids(app: Flask) -> None:
    """Give every request an id (the caller's X-Request-ID when it is a sane one), on its log lines and answer."""
    app.before_request(_take_request_id)
    app.after_request(_echo_request_id)
