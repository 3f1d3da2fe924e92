"""Moments from outside: RFC 3339 date-times that carry their offset, read as aware UTC datetimes."""

from datetime import UTC, datetime

MAX_LENGTH = 40


def parse_instant(text: object) -> datetime | None:
    """An RFC 3339 date-time with its offset as an aware UTC datetime, or None when it is not one."""
    if not isinstance(text, str) or len(text) > MAX_LENGTH:
        return None
    try:
        moment = datetime.fromisoformat(text)
        # Year 1 with a positive offset (or 9999 with a negative one) falls outside what datetime holds in UTC.
        return moment.astimezone(UTC) if moment.tzinfo is not None else None
    except (ValueError, OverflowError):
        return None
