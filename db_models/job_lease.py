"""Who runs a periodic job right now, so several processes can schedule it and only one runs it at a time."""

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from db_models.base import UTCDateTime, db


class JobLease(db.Model):
    """One job's lease: its holder until expires_at, and when it last finished well."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
