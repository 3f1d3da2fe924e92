"""URL converters: paths that cannot hold a page token never reach a handler or the database."""

from werkzeug.routing import BaseConverter, ValidationError

from repository.payments import TOKEN_PATTERN


class PageTokenConverter(BaseConverter):
    """Exactly a page token, so /payments/pix/confirmation and junk paths are not pages."""

    regex = TOKEN_PATTERN.pattern


class RowIdConverter(BaseConverter):
    """A database id: ASCII digits within a 32-bit integer, so an overlong id is a 404, never an overflow."""

    regex = "[0-9]{1,10}"
    MAX = 2**31 - 1

    def to_python(self, value: str) -> int:
        if int(value) > self.MAX:
            raise ValidationError
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)
