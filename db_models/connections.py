"""Engine set-up shared by every process: SQLite pragmas and queued writers, no connection reused in an unknown state"""

import sqlite3
import threading
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import ExceptionContext

import runtime

SQLITE_BUSY_SECONDS = 5.0


class QueuedWriterConnection(sqlite3.Connection):
    """A SQLite connection that writes only while it holds its process's writer lock, and commits off the loop.

    SQLite lets one connection write at a time, and a second writer waits for the file lock inside SQLite's C
    code: under eventlet or gevent that wait blocks every green thread, the one that would commit included, so
    each collision stalled the whole process (creations at concurrency 8 spent half their time stalled). Here the
    writers of a process queue on a lock where waiting yields to the others: it is taken before a connection's
    first write and let go once its transaction has ended, so only another process's writer can make them wait
    inside SQLite. The COMMIT runs on a real thread under a green runtime: its fsync (and a checkpoint's, now and
    then) took 100 to 500 ms on this machine's disk at times, a stall for every page while it lasted.
    """

    writer: threading.Lock  # the engine's, set when the connection opens
    holds_writer = False

    def take_writer(self) -> None:
        """Wait for this process's other writers to finish (yielding meanwhile); then this one may write."""
        if self.holds_writer:
            return
        if not self.writer.acquire(timeout=SQLITE_BUSY_SECONDS):
            raise sqlite3.OperationalError("database is locked")  # what SQLite says when busy_timeout runs out
        self.holds_writer = True

    def commit(self) -> None:
        try:
            runtime.off_the_loop(super().commit)
        finally:
            self._let_writer_go()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._let_writer_go()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._let_writer_go()

    def _let_writer_go(self) -> None:
        if self.holds_writer:
            self.holds_writer = False
            self.writer.release()


def _queue_sqlite_writers(engine: Engine) -> None:
    """Open the engine's SQLite connections as QueuedWriterConnection, sharing one writer lock."""
    writer = threading.Lock()

    def open_queued(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        cparams["factory"] = QueuedWriterConnection

    def prepare(dbapi_connection: QueuedWriterConnection, _record: Any) -> None:
        dbapi_connection.writer = writer
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")
        cursor.close()

    def take(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip()[:6].upper() not in ("SELECT", "PRAGMA"):
            conn.connection.dbapi_connection.take_writer()  # type: ignore[union-attr]

    event.listen(engine, "do_connect", open_queued)
    event.listen(engine, "connect", prepare)
    event.listen(engine, "before_cursor_execute", take)


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
        _queue_sqlite_writers(engine)
    event.listen(engine, "handle_error", _invalidate_after_unclassified_error)
