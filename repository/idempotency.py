"""Idempotency-Keys on creation: the first request with a key runs, every retry with it gets the same answer."""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.dialects import postgresql, sqlite

from db_models import IdempotencyKey, db
from db_models.base import now_utc

# A key whose first request never answered: its process died (a deploy, the OOM killer) and committed nothing, or
# it would have kept its answer. No creation runs this long: three PSP attempts of at most 60 s, a token each.
ABANDONED_AFTER = timedelta(minutes=15)


@dataclass(frozen=True)
class Remembered:
    """The answer the first request with this key got."""

    status_code: int
    body: bytes


class KeyConflictError(Exception):
    """The key is in use: by a request still running (in_progress), or by one with another body."""

    def __init__(self, in_progress: bool) -> None:
        super().__init__("in progress" if in_progress else "another request")
        self.in_progress = in_progress


def claim_key(key: str, fingerprint: str, kept_for: timedelta) -> Remembered | None:
    """None when this request holds the key now; the remembered answer when it ran before; or KeyConflictError."""
    now = now_utc()
    db.session.execute(  # a key past its time is forgotten, and one whose request died is free: either is claimed again
        db.delete(IdempotencyKey).where(
            IdempotencyKey.key == key,
            (IdempotencyKey.created_at < now - kept_for)
            | (IdempotencyKey.status_code.is_(None) & (IdempotencyKey.created_at < now - ABANDONED_AFTER)),
        )
    )
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    claimed = db.session.execute(
        insert(IdempotencyKey)
        .values(key=key, fingerprint=fingerprint, created_at=now_utc())
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(IdempotencyKey.key)
    ).scalar_one_or_none()
    db.session.commit()
    if claimed:
        return None
    first = db.session.get(IdempotencyKey, key)
    if first is None or first.fingerprint != fingerprint:
        raise KeyConflictError(in_progress=False)
    if first.status_code is None:
        raise KeyConflictError(in_progress=True)
    return Remembered(first.status_code, first.response or b"")


def remember_answer(key: str, status_code: int, body: bytes, payment_id: int | None) -> None:
    """Keep the answer with the key, in the caller's transaction (with the payment it reports)."""
    db.session.execute(
        db.update(IdempotencyKey)
        .where(IdempotencyKey.key == key)
        .values(status_code=status_code, response=body, payment_id=payment_id)
    )


def release_key(key: str) -> None:
    """The request failed before doing anything: let a retry with the same key run."""
    db.session.execute(db.delete(IdempotencyKey).where(IdempotencyKey.key == key, IdempotencyKey.status_code.is_(None)))
    db.session.commit()


def forget_old_keys(kept_for: timedelta) -> int:
    """Delete the keys older than kept_for; how many."""
    result = db.session.execute(db.delete(IdempotencyKey).where(IdempotencyKey.created_at < now_utc() - kept_for))
    db.session.commit()
    return result.rowcount
