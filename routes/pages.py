"""The buyer's pages: waiting for payment, paid, expired."""

from flask import Blueprint, Response, abort, current_app, make_response, render_template

from db_models import PaymentStatus
from repository.payments import get_payment_by_token
from repository.refunds import late_money

bp = Blueprint("pages", __name__)

TEMPLATES = {
    PaymentStatus.PENDING: "payment.html",
    PaymentStatus.PAID: "paid.html",
    PaymentStatus.EXPIRED: "expired.html",
}


@bp.get("/")
def index() -> str:
    """A demo form that creates a test payment, so `make run` shows the whole flow."""
    if current_app.config["APP_ENV"] == "production":
        abort(404)
    return render_template("index.html")


# The token converter keeps paths like /payments/pix/confirmation out of this route (they answer 405, not a page).
@bp.get("/payments/pix/<page_token:token>")
def payment_page(token: str) -> Response:
    """The page a buyer keeps open: the QR code while pending, then paid or expired."""
    payment = get_payment_by_token(token)
    if payment is None:
        abort(404)
    status = payment.current_status()
    simulator_url = current_app.config["PIX_SIMULATOR_URL"]  # development only: a link that pays the code
    late = late_money(payment.id) if status == PaymentStatus.EXPIRED else []
    page = render_template(TEMPLATES[status], payment=payment, status=status, simulator_url=simulator_url, late=late)
    response = make_response(page)
    response.cache_control.no_store = True
    return response
