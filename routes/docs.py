"""The OpenAPI 3.1 document of the API and a Swagger UI page that renders it from static/."""

import json
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template

bp = Blueprint("docs", __name__)

DOCUMENT = Path(__file__).with_name("openapi.json")
# Where openapi.json describes the API Pix webhook; the app mounts it at PIX_WEBHOOK_PATH, or not at all.
API_PIX_PREFIX = "/webhooks/api-pix"


@cache
def openapi_document(webhook_prefix: str | None = API_PIX_PREFIX) -> dict[str, Any]:
    """The API description, with the API Pix webhook where it is mounted (None: not mounted).

    Tests check it against the app's routes, so the two cannot drift.
    """
    document = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    paths = document["paths"]
    webhook = {path: paths.pop(path) for path in list(paths) if path.startswith(API_PIX_PREFIX)}
    if webhook_prefix is not None:
        paths |= {webhook_prefix + path.removeprefix(API_PIX_PREFIX): item for path, item in webhook.items()}
    return document


@bp.get("/openapi.json")
def openapi() -> Response:
    """The machine-readable API description of this configuration."""
    mounted = current_app.config["PIX_WEBHOOK_AUTH"] != "off"
    return jsonify(openapi_document(current_app.config["PIX_WEBHOOK_PATH"] if mounted else None))


@bp.get("/docs")
def swagger_ui() -> str:
    """The API description rendered for people, with no CDN."""
    return render_template("docs.html")
