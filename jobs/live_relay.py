"""Waiting pages hear from the outbox: each paid or expired event is claimed by one process and emitted once.

Right after its own commit a request tells the pages at once; a loop in every server catches what other
processes committed (the worker's expiry sweep, a reconciliation run in a process of its own).
"""

from db_models import Payment, db
from live_status import publish_payment_status
from repository.outbox import claim_live_events


def publish_new_events() -> int:
    """Emit payment_status for the events no process has emitted yet; how many."""
    events = claim_live_events()
    for event in events:
        payment = db.session.get(Payment, event.payment_id) if event.payment_id else None
        if payment is not None:
            publish_payment_status(payment)
    return len(events)
