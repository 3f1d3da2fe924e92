"""URL converters: paths that cannot hold a page token never reach a handler or the database."""

from werkzeug.routing import BaseConverter

from repository.payments import TOKEN_PATTERN


class PageTokenConverter(BaseConverter):
    """Exactly a page token, so /payments/pix/confirmation and junk paths are not pages."""

    regex = TOKEN_PATTERN.pattern


class RowIdConverter(BaseConverter):
    """A database id: ASCII digits, read as 0 (no row's id, so a 404) past a 32-bit integer, never an overflow."""

    regex = "[0-9]{1,10}"
    MAX = 2**31 - 1

    def to_python(self, value: str) -> int:
        # Not a ValidationError: werkzeug would then answer 405 for the path's other methods instead of 404.
        return int(value) if int(value) <= self.MAX else 0

    def to_url(self, value: int) -> str:
        return str(value)
