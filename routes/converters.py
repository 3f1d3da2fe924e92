"""URL converters: paths that cannot hold a page token never reach a handler or the database."""

from werkzeug.routing import BaseConverter

from repository.payments import TOKEN_PATTERN


class PageTokenConverter(BaseConverter):
    """Exactly a page token, so /payments/pix/confirmation and junk paths are not pages."""

    regex = TOKEN_PATTERN.pattern
