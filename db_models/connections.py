"""Engine set-up shared by every process: SQLite pragmas, and never reusing a connection in an unknown state."""

from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import ExceptionContext


def _enable_sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _invalidate_after_unclassified_error(context: ExceptionContext) -> None:
    # A driver that fails outside its own error classes (pg8000 meeting a lone surrogate while writing a
    # message) may leave the wire protocol half-written: the next request on that connection would read
    # another query's rows. Drop that one connection; the rest of the pool is fine.
    if not isinstance(context.original_exception, context.dialect.loaded_dbapi.Error):
        context.is_disconnect = True
        context.invalidate_pool_on_disconnect = False


def configure_engine(engine: Engine) -> None:
    """Apply the checkout's connection policies to engine."""
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _enable_sqlite_wal)
    event.listen(engine, "handle_error", _invalidate_after_unclassified_error)
