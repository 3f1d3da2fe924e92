"""One transaction around several repository calls: all of them commit together, or none does."""

from collections.abc import Iterator
from contextlib import contextmanager

from db_models import db


@contextmanager
def transaction() -> Iterator[None]:
    """Commit when the block ends, roll back when it raises."""
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
