"""How the page shows things to people in Brazil: R$ 1.500,00, local times and statuses in Portuguese."""

import re
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from psp_simulator.records import Charge, ChargeStatus, RefundStatus

try:
    BRASILIA: ZoneInfo | None = ZoneInfo("America/Sao_Paulo")
except ZoneInfoNotFoundError:  # a system without tz data shows UTC and says so
    BRASILIA = None
TYPED_AMOUNT = re.compile(r"[0-9]{1,10}(\.[0-9]{1,2})?")
REFUND_LABELS = {
    RefundStatus.EM_PROCESSAMENTO: "em processamento",
    RefundStatus.DEVOLVIDO: "devolvido",
    RefundStatus.NAO_REALIZADO: "não realizado",
}


def brl(amount: Decimal) -> str:
    """An amount as Brazilians write it: R$ 1.500,00."""
    us_style = f"{amount:,.2f}"
    return "R$ " + us_style.replace(",", "_").replace(".", ",").replace("_", ".")


def local_time(moment: datetime | None) -> str:
    """A time in Brasília (dd/mm/aaaa hh:mm:ss), or in UTC, labelled, where no tz data is installed."""
    if moment is None:
        return ""
    try:
        local = moment.astimezone(BRASILIA or UTC)
    except OverflowError:  # a made-up horario at the edge of the calendar
        local = moment.astimezone(UTC)
    text = f"{local.day:02d}/{local.month:02d}/{local.year:04d} {local:%H:%M:%S}"
    return text if BRASILIA else f"{text} UTC"


def typed_amount(text: str) -> Decimal | None:
    """What a person typed as an amount (12, 12,5, 1.500,00 or 12.50), as an exact Decimal > 0, or None."""
    text = text.strip().removeprefix("R$").strip().replace(" ", "")
    if "," in text:
        text = text.replace(".", "").replace(",", ".")
    if not TYPED_AMOUNT.fullmatch(text) or Decimal(text) == 0:
        return None
    return Decimal(text).quantize(Decimal("0.01"))


def charge_status(charge: Charge, now: datetime) -> tuple[str, str]:
    """(label, css modifier) of a charge's status, telling an expired ATIVA charge apart from a payable one."""
    if charge.status == ChargeStatus.CONCLUIDA:
        return "Concluída", "paid"
    if charge.status == ChargeStatus.REMOVIDA_PELO_USUARIO_RECEBEDOR:
        return "Removida", "removed"
    if charge.is_expired(now):
        return "Ativa, expirada", "expired"
    return "Ativa", "active"
