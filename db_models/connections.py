"""Engine set-up for every process: SQLite pragmas and queued writers, PostgreSQL connections that give up on a
silent host, no connection reused in an unknown state."""

import fcntl
import math
import os
import socket
import sqlite3
import threading
import time
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import OperationalError

SQLITE_BUSY_SECONDS = 5.0
_HOLDS_WRITE_LOCK = "pix_holds_sqlite_write_lock"


def _enable_sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")
    cursor.close()


class ProcessesWriterLock:
    """A lock every process writing one SQLite file takes (flock on a file beside it), waited for by polling
    with sleeps that yield, so a writer of another process never holds this one in SQLite's busy handler."""

    FIRST_WAIT, LONGEST_WAIT = 0.0005, 0.01  # seconds between tries: short, since writes are short

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None

    def acquire(self, timeout: float) -> bool:
        """Whether the lock was taken within timeout seconds."""
        if self.fd is None:  # opened on first use, close-on-exec: a child process never inherits the lock
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline, wait = time.monotonic() + timeout, self.FIRST_WAIT
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(wait)
                wait = min(wait * 2, self.LONGEST_WAIT)

    def release(self) -> None:
        """Let the next process's writer in."""
        fcntl.flock(self.fd, fcntl.LOCK_UN)


def _queue_sqlite_writers(engine: Engine) -> None:
    """Let one connection write at a time, queued on locks that yield to other green threads.

    SQLite lets one connection write at a time, and a second writer waits for the file lock inside SQLite's C
    code: under eventlet or gevent that wait blocks every green thread, the one that would commit included, so
    each collision stalled the whole process (creations at concurrency 8 spent half their time stalled). Before
    a connection's first write it takes this process's lock, then the one shared with the other processes on
    the file (a worker, a CLI command), and lets both go when its transaction ends: the checkout's writers never
    meet SQLite's lock, only a foreign program writing the file can make them wait there.
    """
    writer = threading.Lock()
    database = engine.url.database
    processes = ProcessesWriterLock(f"{database}-lock") if database and database != ":memory:" else None

    def take(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        if conn.info.get(_HOLDS_WRITE_LOCK) or statement.lstrip()[:6].upper() in ("SELECT", "PRAGMA"):
            return
        if not writer.acquire(timeout=SQLITE_BUSY_SECONDS):
            raise sqlite3.OperationalError("database is locked")  # what SQLite says when busy_timeout runs out
        if processes and not processes.acquire(SQLITE_BUSY_SECONDS):
            writer.release()
            raise sqlite3.OperationalError("database is locked")
        conn.info[_HOLDS_WRITE_LOCK] = True

    def release(info: dict[str, Any]) -> None:
        # Runs just before COMMIT or ROLLBACK reaches SQLite: nothing yields in between, and a writer that gets
        # in first (another thread, another process) waits on SQLite's own lock for that moment only.
        if info.pop(_HOLDS_WRITE_LOCK, False):
            if processes:
                processes.release()
            writer.release()

    event.listen(engine, "before_cursor_execute", take)
    for end in ("commit", "rollback"):
        event.listen(engine, end, lambda conn: release(conn.info))
    # A connection given back, invalidated or closed mid-transaction is rolled back without those events.
    event.listen(engine.pool, "reset", lambda _dbapi, record, _state: release(record.info))
    event.listen(engine.pool, "invalidate", lambda _dbapi, record, _error: release(record.info))
    event.listen(engine.pool, "close", lambda _dbapi, record: release(record.info))


def _invalidate_after_unclassified_error(context: ExceptionContext) -> OperationalError | None:
    failure = context.original_exception
    if isinstance(failure, context.dialect.loaded_dbapi.Error):
        return None
    context.is_disconnect = True
    if isinstance(failure, OSError):
        # pg8000 lets some socket failures out unwrapped (a host gone silent is TimeoutError): they are the
        # database being unreachable, as the driver's own network errors are, for the pool and the callers.
        return OperationalError(
            context.statement, context.parameters, failure, hide_parameters=context.engine.hide_parameters
        )
    # A driver that fails outside its own error classes (pg8000 meeting a lone surrogate while writing a
    # message) may leave the wire protocol half-written: the next request on that connection would read
    # another query's rows. Drop that one connection; the rest of the pool is fine.
    context.invalidate_pool_on_disconnect = False
    return None


def tcp_connection(host: str, port: int, network_timeout: float) -> socket.socket:
    """A TCP connection that gives up on its peer once network_timeout seconds pass with nothing acknowledged.

    Without this, a host that vanished (a failover that moved its address, a partition) holds every request on
    its connections for as long as the kernel retransmits, about 15 minutes. Keepalive probes an idle connection,
    and TCP_USER_TIMEOUT ends one whose data or probes go unacknowledged; a long statement on a live host is
    never cut, since that host's kernel acknowledges both.
    """
    connection = socket.create_connection((host, port), timeout=network_timeout)
    connection.settimeout(None)
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, max(1, math.ceil(network_timeout / 2)))
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, max(1, math.ceil(network_timeout / 4)))
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(network_timeout * 1000))
    return connection


def _give_up_on_silent_hosts(engine: Engine, network_timeout: float) -> None:
    def connect(dialect: Any, _record: Any, args: list[Any], params: dict[str, Any]) -> Any:
        if "unix_sock" in params:
            return None  # the dialect connects as usual
        host, port = params.get("host", "localhost"), params.get("port", 5432)
        try:
            connection = tcp_connection(host, port, network_timeout)
        except OSError as error:  # as pg8000 says it, so that the pool and the callers read an unreachable database
            raise dialect.loaded_dbapi.InterfaceError(f"cannot connect to {host}:{port}: {error}") from error
        # pg8000's connect() takes no socket, its Connection does; host stays for TLS's server name.
        return dialect.loaded_dbapi.Connection(*args, sock=connection, **params)

    event.listen(engine, "do_connect", connect)


def configure_engine(engine: Engine, network_timeout: float | None = None) -> None:
    """Apply the checkout's connection policies to engine; network_timeout: seconds a PostgreSQL host may leave
    the connection unacknowledged before it counts as gone."""
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _enable_sqlite_wal)
        _queue_sqlite_writers(engine)
    elif engine.dialect.driver == "pg8000" and network_timeout:
        _give_up_on_silent_hosts(engine, network_timeout)
    event.listen(engine, "handle_error", _invalidate_after_unclassified_error)
