"""One JSON error shape for the API, real status codes on HTML error pages."""

import logging
from contextlib import suppress

from flask import Flask, Response, jsonify, render_template, request
from flask.globals import request_ctx
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException, InternalServerError, NotFound, ServiceUnavailable

from db_models import db
from log_setup import request_line

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A client error the API reports as {"error": {"status", "code", "message", "field"}}."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


class PaymentNotFound(NotFound):
    """No payment has the page token in the URL: the buyer's link is wrong or incomplete."""

    api_code = "payment_not_found"
    description = "no payment has this token"


class DatabaseUnavailable(ServiceUnavailable):
    """The database does not answer (down, unreachable, locked, out of connections): a passing outage the client
    should retry after Retry-After, not a fault of its request or of the code."""

    api_code = "database_unavailable"
    description = "the database is not answering; try again in a few seconds"


# What the driver raises when the database cannot be reached or used, rather than when a statement is wrong.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeoutError)
RETRY_AFTER_SECONDS = 5

# The blueprints whose routes are pages people open in a browser.
PAGE_BLUEPRINTS = {"pages", "admin", "sample_shop"}


def error_response(status: int, code: str, message: str, field: str | None = None) -> Response:
    """The API's JSON error body with its status code."""
    error = {"status": status, "code": code, "message": message}
    if field is not None:
        error["field"] = field
    response = jsonify(error=error)
    response.status_code = status
    return response


def _wants_html() -> bool:
    if request_ctx.url_adapter is None:
        return False  # the Host was refused, so pages (which build URLs) cannot render
    if request.blueprint in PAGE_BLUEPRINTS:
        # A page, unless the client asks for JSON over HTML.
        return request.accept_mimetypes.best_match(["text/html", "application/json"]) != "application/json"
    # Unrouted paths: browsers prefer HTML; API clients and curl (*/*) get JSON.
    preferred = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return request.blueprint is None and preferred == "text/html"


def _handle_api_error(error: ApiError) -> Response:
    return error_response(error.status, error.code, error.message, error.field)


def _handle_http_exception(error: HTTPException) -> Response | tuple[str, int]:
    status = error.code or 500
    if _wants_html():
        if status == 404:
            return render_template("not_found.html", payment_link=isinstance(error, PaymentNotFound)), status
        return render_template("error.html", status=status), status
    code = getattr(error, "api_code", error.name.lower().replace(" ", "_"))
    message = error.description or error.name
    if type(error) is NotFound and message == NotFound.description:
        message = "nothing is at this URL"  # Werkzeug's default asks a person to check their spelling
    response = error_response(status, code, message)
    for name, value in error.get_headers():
        if name != "Content-Type":  # keep Allow, Retry-After and the like
            response.headers[name] = value
    return response


def roll_back() -> None:
    """Undo what the failed request or event wrote; a connection the database dropped went with it."""
    with suppress(*DATABASE_UNAVAILABLE):
        db.session.rollback()


def _handle_database_unavailable(error: Exception) -> Response | tuple[str, int]:
    roll_back()
    log.warning("database unavailable on %s %s: %s", *request_line(), error)
    return _handle_http_exception(DatabaseUnavailable(retry_after=RETRY_AFTER_SECONDS))


def _handle_unexpected(error: Exception) -> Response | tuple[str, int]:
    roll_back()
    log.exception("unhandled error on %s %s", *request_line())
    return _handle_http_exception(InternalServerError())


def register_error_handlers(app: Flask) -> None:
    """Route every error through the JSON or HTML renderer."""
    app.register_error_handler(ApiError, _handle_api_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    for error in DATABASE_UNAVAILABLE:
        app.register_error_handler(error, _handle_database_unavailable)
    app.register_error_handler(Exception, _handle_unexpected)
