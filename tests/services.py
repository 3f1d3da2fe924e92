"""Real PostgreSQL and Redis for the tests that need them (127.0.0.1:5432 trust auth, 127.0.0.1:6379)."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text

from tests.external_tools import require_service

POSTGRES_ADMIN_URL = "postgresql+pg8000://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """The URL of a new, empty database, dropped afterwards."""
    require_service("PostgreSQL", "127.0.0.1", 5432, "test the checkout on PostgreSQL")
    name = f"pix_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def redis_url() -> str:
    """The local Redis, or skip (fail when CI=true)."""
    require_service("Redis", "127.0.0.1", 6379, "share events and rate limits between processes")
    return REDIS_URL
