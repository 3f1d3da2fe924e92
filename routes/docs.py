"""The OpenAPI 3.1 document of the API and a Swagger UI page that renders it from static/."""

import json
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify, render_template

bp = Blueprint("docs", __name__)

DOCUMENT = Path(__file__).with_name("openapi.json")


@cache
def openapi_document() -> dict[str, Any]:
    """The API description; tests check it against the app's routes so the two cannot drift."""
    return json.loads(DOCUMENT.read_text(encoding="utf-8"))


@bp.get("/openapi.json")
def openapi() -> Response:
    """The machine-readable API description."""
    return jsonify(openapi_document())


@bp.get("/docs")
def swagger_ui() -> str:
    """The API description rendered for people, with no CDN."""
    return render_template("docs.html")
