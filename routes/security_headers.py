"""Security headers on every response: pages load only their own assets, are never framed, leak no token."""

from flask import Flask, Response, request

# No inline script or style anywhere: the pages load their own files and talk only to their own origin.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI sets style attributes and draws icons from data: URLs; it runs no inline script either.
DOCS_POLICY = PAGE_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'").replace(
    "img-src 'self'", "img-src 'self' data:"
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # A page URL holds the payment's secret token: never send it to another site, not even as an origin.
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
HSTS = "max-age=31536000"


def add_security_headers(response: Response) -> Response:
    """Set the headers on one response; the docs page gets the only looser policy."""
    response.headers.setdefault("Content-Security-Policy", DOCS_POLICY if request.blueprint == "docs" else PAGE_POLICY)
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def register_security_headers(app: Flask) -> None:
    """Add the security headers to every response of app, error pages and static files included."""
    app.after_request(add_security_headers)
