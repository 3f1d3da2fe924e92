"""Jinja filters for the buyer's pages: Brazilian money, dates and countdowns."""

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import Flask

from db_models import Payment
from pix.money import format_brl, from_cents

# How a refund's state reads to the buyer whose late Pix it returns.
REFUND_LABELS = {
    "REQUESTED": "Devolução solicitada",
    "EM_PROCESSAMENTO": "Devolução em andamento",
    "DEVOLVIDO": "Valor devolvido",
    "NAO_REALIZADO": "A devolução não foi concluída; a loja vai tentar de novo",
    "RECUSADO": "A devolução não foi aceita; a loja vai tentar de novo",
}


def clock(seconds: int) -> str:
    """29:59 or 1:29:59, as the countdown shows it."""
    hours, rest = divmod(max(0, seconds), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"


def order_label(payment: Payment) -> str:
    """The order as the buyer knows it: the shop's order_id, or nº and the payment's number without one."""
    return payment.order_id or f"nº {payment.id}"


def register_template_filters(app: Flask) -> None:
    """Make brl, cents_brl, local_datetime, clock, iso_local_time, order_label and the refund labels available to
    templates."""
    display_zone = ZoneInfo(app.config["DISPLAY_TIMEZONE"])

    def local_datetime(moment: datetime) -> str:
        return format_datetime(moment, "dd/MM/yyyy 'às' HH:mm", tzinfo=display_zone, locale="pt_BR")

    app.add_template_filter(format_brl, "brl")
    app.add_template_filter(lambda cents: format_brl(from_cents(cents)), "cents_brl")
    app.add_template_global(REFUND_LABELS, "refund_labels")
    app.add_template_filter(local_datetime, "local_datetime")
    app.add_template_filter(clock, "clock")
    app.add_template_filter(order_label, "order_label")
    app.add_template_filter(
        lambda iso: format_datetime(datetime.fromisoformat(iso), "HH:mm:ss", tzinfo=display_zone, locale="pt_BR"),
        "iso_local_time",
    )
