"""The rate limits' headers: what is left of the budget on every answer of a limited route, Retry-After only on 429.

Flask-Limiter's own headers also put Retry-After on every success (telling a shop's client to wait before its next
creation) and raise a 503's Retry-After to the end of the limit's window (up to a minute for a 5 s outage).
"""

import logging
import math
import time
from http import HTTPStatus

from flask import Flask, Response

from extensions import limiter

log = logging.getLogger(__name__)


def add_rate_limit_headers(response: Response) -> Response:
    """X-RateLimit-Limit, -Remaining and -Reset for the request's tightest limit; Retry-After when it refused."""
    limit = limiter.current_limit
    if limit is None:
        return response
    try:
        resets_at, remaining = limit.window  # the window's end (Unix time) and what is left of it
    except Exception as error:  # the counters' storage failing never fails an answer, which then goes without
        log.warning("rate limit headers left out: %s: %s", type(error).__name__, error)
        return response
    response.headers["X-RateLimit-Limit"] = str(limit.limit.amount)
    response.headers["X-RateLimit-Remaining"] = str(remaining)
    response.headers["X-RateLimit-Reset"] = str(math.ceil(resets_at))
    if response.status_code == HTTPStatus.TOO_MANY_REQUESTS:
        response.headers["Retry-After"] = str(max(1, math.ceil(resets_at - time.time())))
    return response


def register_rate_limit_headers(app: Flask) -> None:
    """Add the rate limits' headers to every answer of app (Flask-Limiter's own are switched off in config)."""
    app.after_request(add_rate_limit_headers)
