"""Pages and operators hear from the outbox: each event is claimed by one process and told live once.

Right after its own commit a request tells them at once; a loop in every server catches what other processes
committed (the worker's expiry sweep, a reconciliation run in a process of its own) and what no request told
(money that could not be applied, refunds).

A process whose Redis failed it tells again of every event recorded meanwhile (tell_again): its own pages, when it
could not hear the others; every page, when it could not publish.
"""

import logging
from datetime import datetime

from live_status import publish_event
from repository.outbox import claim_live_events, events_since
from repository.payments import payments_by_id

log = logging.getLogger(__name__)

BATCH = 100
# After an outage this long the waiting pages have polled their status anyway: the newest events are enough.
MOST_TOLD_AGAIN = 1000


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


def tell_again(since: datetime, here_only: bool) -> int:
    """Tell again of the events recorded since since, which Redis did not carry: to this process's pages and
    operators only (here_only: it could not hear the others), or to every process's (it could not publish); how
    many. A page told twice of a status shows it once."""
    events = events_since(since, MOST_TOLD_AGAIN)
    payments = payments_by_id({event.payment_id for event in events if event.payment_id})
    for event in events:
        publish_event(event.type, payments.get(event.payment_id), here_only=here_only)
    whom = "this process's pages" if here_only else "every page"
    log.info("told %s again of %s events recorded since %s", whom, len(events), since.isoformat())
    return len(events)
