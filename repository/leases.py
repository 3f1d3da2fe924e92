"""Leases on periodic jobs: taking one is a single INSERT ... ON CONFLICT DO UPDATE, so two processes never both win."""

from datetime import datetime, timedelta

from sqlalchemy.dialects import postgresql, sqlite

from db_models import JobLease, db
from db_models.base import now_utc


def take_lease(name: str, holder: str, duration: timedelta) -> bool:
    """Hold the job for duration, unless another holder's lease has not expired yet."""
    now = now_utc()
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(JobLease).values(name=name, holder=holder, expires_at=now + duration)
    statement = statement.on_conflict_do_update(
        index_elements=["name"],
        set_={"holder": holder, "expires_at": now + duration},
        where=(JobLease.expires_at < now) | (JobLease.holder == holder),
    ).returning(JobLease.name)
    taken = db.session.execute(statement).scalar_one_or_none() is not None
    db.session.commit()
    return taken


def release_lease(name: str, holder: str, succeeded_at: datetime | None) -> None:
    """Let the next run start at once; record when this one finished well, if it did."""
    values: dict[str, datetime] = {"expires_at": now_utc()}
    if succeeded_at is not None:
        values["last_success_at"] = succeeded_at
    db.session.execute(db.update(JobLease).where(JobLease.name == name, JobLease.holder == holder).values(**values))
    db.session.commit()


def last_success(name: str) -> datetime | None:
    """When the job last finished well."""
    return db.session.execute(db.select(JobLease.last_success_at).filter_by(name=name)).scalar_one_or_none()
