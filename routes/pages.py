"""The buyer's pages: waiting for payment, paid, expired."""

import math

from flask import Blueprint, Response, abort, current_app, make_response, render_template

from db_models import Payment, PaymentStatus
from db_models.base import now_utc
from pix.qr import qr_modules
from pix.return_link import signed_return_url
from repository.payments import get_payment_by_token
from repository.refunds import late_money
from routes.errors import PaymentNotFound

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


# A paid buyer goes back to the shop by themselves after this long (or at once, with the button).
RETURN_AFTER_SECONDS = 5


def _return_link(payment: Payment, status: PaymentStatus) -> str | None:
    if not payment.return_url or status == PaymentStatus.PENDING:
        return None
    key = current_app.config["RETURN_URL_KEY"]
    return signed_return_url(payment.return_url, key, payment.id, payment.order_id, status.value, now_utc())


# The token converter keeps paths like /payments/pix/confirmation out of this route (they answer 405, not a page).
@bp.get("/payments/pix/<page_token:token>")
def payment_page(token: str) -> Response:
    """The page a buyer keeps open: the QR code while pending, then paid or expired."""
    payment = get_payment_by_token(token)
    if payment is None:
        raise PaymentNotFound()
    now, grace = now_utc(), current_app.config["PIX_CLOCK_TOLERANCE"]
    status = payment.current_status(now)
    # Just past the deadline a confirmation can still pay it (it is judged by when the money moved): the buyer
    # who paid at the last second waits on the page, told so, instead of being told to pay again.
    closes_in = (payment.expiration_date + grace - now).total_seconds()
    closing = status == PaymentStatus.EXPIRED and closes_in > 0
    shown = PaymentStatus.PENDING if closing else status
    page = render_template(
        TEMPLATES[shown],
        payment=payment,
        status=shown,
        closing=closing,
        closes_in=max(0, math.ceil(closes_in)),  # never before the server: a page left early would come back
        grace_seconds=int(grace.total_seconds()),
        simulator_url=current_app.config["PIX_SIMULATOR_URL"],  # development only: a link that pays the code
        qr_modules=qr_modules(payment.pix_copy_paste) if shown == PaymentStatus.PENDING else None,
        late=late_money(payment.id) if shown == PaymentStatus.EXPIRED else [],
        return_link=_return_link(payment, shown),
        return_after=RETURN_AFTER_SECONDS,
    )
    response = make_response(page)
    response.cache_control.no_store = True
    return response
