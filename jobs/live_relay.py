"""Pages and operators hear from the outbox: each event is claimed by one process and told live once.

Right after its own commit a request tells them at once; a loop in every server catches what other processes
committed (the worker's expiry sweep, a reconciliation run in a process of its own) and what no request told
(money that could not be applied, refunds).
"""

from live_status import publish_event
from repository.outbox import claim_live_events
from repository.payments import payments_by_id

BATCH = 100


def publish_new_events() -> int:
    """Tell live the events no process has told yet, a batch at a time until none is left; how many."""
    told = 0
    while events := claim_live_events(BATCH):
        payments = payments_by_id({event.payment_id for event in events if event.payment_id})
        for event in events:
            publish_event(event.type, payments.get(event.payment_id))
        told += len(events)
        if len(events) < BATCH:
            break
    return told
