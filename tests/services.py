"""Real PostgreSQL and Redis for the tests that need them.

PostgreSQL is TEST_POSTGRES_URL, a superuser that may create databases (default: postgres without a password on
127.0.0.1:5432, trust auth); Redis is 127.0.0.1:6379.
"""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import DBAPIError

from tests.cuttable_proxy import CuttableProxy, cuttable_proxy
from tests.external_tools import missing, require_service

POSTGRES_ADMIN_URL = make_url(os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
REDIS_URL = "redis://127.0.0.1:6379/0"


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """The URL of a new, empty database, dropped afterwards."""
    host, port = POSTGRES_ADMIN_URL.host or "127.0.0.1", POSTGRES_ADMIN_URL.port or 5432
    require_service("PostgreSQL", host, port, "test the checkout on PostgreSQL")
    name = f"pix_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL.set(drivername="postgresql+pg8000"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except DBAPIError as error:
        admin.dispose()
        # Debian's own cluster asks for a password on 127.0.0.1: say what to set instead of a driver traceback.
        reason = error.orig.args[0] if error.orig.args else error.orig
        missing(
            f"PostgreSQL on {host}:{port} did not let {POSTGRES_ADMIN_URL.username} create a database"
            f" ({reason.get('M', reason) if isinstance(reason, dict) else reason});"
            " set TEST_POSTGRES_URL to a superuser's URL, e.g. postgresql://postgres:secret@127.0.0.1:5432/postgres"
        )
    try:
        yield POSTGRES_ADMIN_URL.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def postgres_behind_relay() -> Iterator[tuple[str, CuttableProxy]]:
    """A fresh database's URL through a relay that can cut or freeze it, and that relay."""
    with fresh_postgres_database() as url:
        real = make_url(url)
        with cuttable_proxy((real.host or "127.0.0.1", real.port or 5432)) as proxy:
            yield real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False), proxy


def redis_url() -> str:
    """The local Redis, or skip (fail when CI=true)."""
    require_service("Redis", "127.0.0.1", 6379, "share events and rate limits between processes")
    return REDIS_URL
