"""The composition root: create_simulator() builds the simulator's Flask app from its settings."""

import secrets
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Flask, Response

from psp_simulator import api_cob, api_pix, api_webhook, auth, control, location, ui
from psp_simulator.problems import register_problem_handlers
from psp_simulator.services import EXTENSION_NAME, build_simulator
from psp_simulator.settings import merged_config, read_settings

MAX_BODY_BYTES = 64 * 1024
# The page has no script and no inline style, so it can forbid both, like the checkout's own pages.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def register_blueprints(app: Flask) -> None:
    """The API Pix under /v2 (behind the outage switch and the bearer token), then the open parts."""
    api = Blueprint("api", __name__, url_prefix="/v2")
    api.before_request(auth.refuse_during_outage)
    api.before_request(auth.require_client_certificate)
    api.before_request(auth.require_bearer_token)
    for part in (api_cob.bp, api_pix.bp, api_webhook.bp):
        api.register_blueprint(part)
    app.register_blueprint(api)
    for blueprint in (auth.bp, location.bp, control.bp, ui.bp):
        app.register_blueprint(blueprint)


def add_security_headers(response: Response) -> Response:
    """Nothing the simulator answers may be cached, framed or sniffed."""
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def create_simulator(config: Mapping[str, Any] | None = None) -> Flask:
    """The simulator app: defaults, then SIM_* environment variables, then config; SettingsError if one is wrong."""
    values = merged_config(config)
    settings = read_settings(values)
    app = Flask(__name__)
    app.config.from_mapping(values)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    # Only the page's flash messages use the session; they need not outlive the process.
    app.secret_key = values.get("SECRET_KEY") or secrets.token_hex(32)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION_NAME] = build_simulator(settings)
    register_blueprints(app)
    register_problem_handlers(app)
    app.after_request(add_security_headers)
    return app
