"""The API Pix's text formats: money strings, RFC 3339 times, txids and the 32-character transaction ids."""

import re
import secrets
import string
import unicodedata
import uuid
from datetime import UTC, datetime
from decimal import Decimal

MONEY = re.compile(r"[0-9]{1,10}\.[0-9]{2}")  # not \d, which takes other scripts' digits too
CHARGE_TXID = re.compile(r"[a-zA-Z0-9]{26,35}")
# In /pix, its webhook and static BR Codes a txid may be as short as one character.
PIX_TXID = re.compile(r"[a-zA-Z0-9]{1,35}")
END_TO_END_ID = re.compile(r"[a-zA-Z0-9]{32}")
REFUND_ID = re.compile(r"[a-zA-Z0-9]{1,35}")
ISPB = re.compile(r"[0-9A-Z]{8}")
TIMESTAMP_MAX_LENGTH = 40
RANDOM_ALPHABET = string.ascii_lowercase + string.digits


def now_utc() -> datetime:
    """The current time in UTC, to the millisecond: records keep exactly the time their JSON shows."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def parse_money(text: object) -> Decimal | None:
    """An API Pix amount ("110.00", a string with two decimals) as an exact Decimal, or None if malformed."""
    if not isinstance(text, str) or not MONEY.fullmatch(text):
        return None
    return Decimal(text)


def money_text(amount: Decimal) -> str:
    """An amount as the API Pix writes it: digits, a dot and two decimals."""
    return f"{amount:.2f}"


def parse_timestamp(text: object) -> datetime | None:
    """An RFC 3339 date-time that carries its offset, as an aware UTC datetime, or None if malformed."""
    if not isinstance(text, str) or len(text) > TIMESTAMP_MAX_LENGTH:
        return None
    try:
        moment = datetime.fromisoformat(text)
        # Year 1 with a positive offset (or 9999 with a negative one) falls outside what datetime holds in UTC.
        return moment.astimezone(UTC) if moment.tzinfo is not None else None
    except (ValueError, OverflowError):
        return None


def timestamp_text(moment: datetime) -> str:
    """An RFC 3339 UTC time with milliseconds and Z, as the spec's examples write horario and criacao."""
    m = moment.astimezone(UTC)
    # Not strftime: its %Y drops the leading zeros of years before 1000 on some platforms.
    date = f"{m.year:04d}-{m.month:02d}-{m.day:02d}"
    return f"{date}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}.{m.microsecond // 1000:03d}Z"


def new_txid() -> str:
    """A txid for a charge whose creator let the PSP choose (POST /cob): 32 letters and digits."""
    return uuid.uuid4().hex


def new_location_token() -> str:
    """The unguessable part of a location URL, which is a capability: whoever has it may read the charge."""
    return uuid.uuid4().hex


def _transaction_id(prefix: str, ispb: str, moment: datetime) -> str:
    random_part = "".join(secrets.choice(RANDOM_ALPHABET) for _ in range(11))
    m = moment.astimezone(UTC)
    return f"{prefix}{ispb}{m.year:04d}{m.month:02d}{m.day:02d}{m.hour:02d}{m.minute:02d}{random_part}"


def new_end_to_end_id(ispb: str, moment: datetime) -> str:
    """A Pix's endToEndId: E, the payer PSP's ISPB, yyyyMMddHHmm (UTC) and 11 random characters."""
    return _transaction_id("E", ispb, moment)


def new_return_id(ispb: str, moment: datetime) -> str:
    """A refund's rtrId: D, the ISPB, yyyyMMddHHmm (UTC) and 11 random characters."""
    return _transaction_id("D", ispb, moment)


def clean_text(value: object, max_length: int) -> str | None:
    """value if it is text of 1 to max_length characters without controls or lone surrogates, else None.

    Only those: the API Pix limits solicitacaoPagador to its length, and a no-break space or a soft hyphen in a
    shop's description (which str.isprintable refuses) is text a real PSP takes."""
    if not isinstance(value, str) or not 0 < len(value) <= max_length:
        return None
    return None if any(unicodedata.category(character) in ("Cc", "Cs") for character in value) else value
