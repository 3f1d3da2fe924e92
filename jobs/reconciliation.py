"""Reconciliation: ask the PSP what it received, and feed it through the same notice path as its webhook.

A webhook can be lost (the PSP gave up, our endpoint was down, a proxy dropped it). Every run lists the Pix the
PSP received since the last good run (GET /pix, overlapping a little), and looks at the charges whose deadline
just passed unpaid (GET /cob/{txid}), so no paid order stays pending for longer than a run's interval, and no
unpaid one is announced expired before the PSP has said so; and it sends
the refunds not sent yet and asks about the ones in progress. Notices
are idempotent (one per endToEndId), so seeing a Pix again changes nothing; a lease keeps concurrent runs in
several processes from doing the work twice.
"""

import logging
import os
import socket
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

import metrics
from db_models import NoticeOutcome
from db_models.base import now_utc
from jobs.refunds import settle_refunds
from live_status import publish_event
from pix.api_pix import InvalidPixItemError, ReceivedPix, item_json
from pix.providers import ApiPixProvider
from pix.psp_client import PAID, ApiPixClient, Charge, PspError
from repository.bank_notices import BankNotice, apply_notice, digest_key, keep_unreadable_notice
from repository.leases import last_success, release_lease, take_lease
from repository.payments import mark_charges_closed, unpaid_charges
from repository.refunds import record_refund_state

log = logging.getLogger(__name__)
JOB = "reconciliation"
SOURCE = "reconciliation"
LEASE = timedelta(minutes=5)
FIRST_LOOKBACK = timedelta(hours=24)  # the first run ever looks back this far
OVERLAP = timedelta(minutes=5)  # a PSP may list a Pix a little after its horario
RECENTLY_EXPIRED = timedelta(hours=1)  # charges whose deadline passed this recently are asked about one by one
MAX_CHARGES_PER_RUN = 50


@dataclass
class Report:
    """What one run saw and did."""

    pix_seen: int = 0
    charges_checked: int = 0
    refunds_settled: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the log and the CLI."""
        found = ", ".join(f"{count} {outcome}" for outcome, count in sorted(self.outcomes.items())) or "nothing new"
        errors = f"; {len(self.errors)} errors: {'; '.join(self.errors[:3])}" if self.errors else ""
        refunds = f", {self.refunds_settled} refunds moved on" if self.refunds_settled else ""
        return f"{self.pix_seen} Pix listed, {self.charges_checked} charges checked: {found}{refunds}{errors}"


def holder_name() -> str:
    """Who holds a lease: this host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def reconcile(client: ApiPixClient, clock_tolerance: timedelta, tells_pages: bool = True) -> Report | None:
    """One run, or None when another process holds the lease. tells_pages: this process reaches the waiting
    pages (it serves them, or shares their message queue); else the servers' relay tells them what it paid."""
    holder, started = holder_name(), now_utc()
    if not take_lease(JOB, holder, LEASE):
        return None
    report, finished, closed = Report(), False, []
    try:
        since = (last_success(JOB) or started - FIRST_LOOKBACK) - OVERLAP
        for pix in client.received_pix(since, started):
            report.pix_seen += 1
            _take(pix, clock_tolerance, report, tells_pages)
        # Asked about once their deadline is behind the PSP's clock too; an answer that no Pix can come any more
        # is what the expiry sweep waits for (charge_checked_at) before it tells the shop payment.expired.
        window = (started - RECENTLY_EXPIRED, started - clock_tolerance)
        for payment in unpaid_charges(ApiPixProvider.name, *window, MAX_CHARGES_PER_RUN):
            if (charge := _ask(client, payment.id, payment.txid, report)) is None:
                continue
            for pix in charge.received:
                _take(pix, clock_tolerance, report, tells_pages)
            report.charges_checked += 1
            if charge.closed_unpaid(started - clock_tolerance):
                closed.append(payment.id)
            elif charge.status == PAID and not charge.received:
                log.warning("the PSP says payment %s's charge is paid, but shows no Pix for it", payment.id)
        report.refunds_settled = settle_refunds(client)
        finished = True
    except PspError as error:
        report.errors.append(str(error))
    finally:
        # Only a run that went through moves the window on: one that raised must be looked at again.
        release_lease(JOB, holder, started if finished else None)
        mark_charges_closed(closed, started)  # what the expiry sweep waits for, and asked about no more
    log.info("reconciliation: %s", report.summary())
    metrics.RECONCILIATION_RUNS.labels("failed" if report.errors else "ok").inc()
    for outcome, count in report.outcomes.items():
        metrics.RECONCILIATION_FOUND.labels(str(outcome)).inc(count)
    return report


def _ask(client: ApiPixClient, payment_id: int, txid: str, report: Report) -> Charge | None:
    """GET /cob/{txid}, or None when the PSP refuses this one charge (unknown to it, described unreadably): one
    such charge stops no other from being asked. A PSP that is down fails the run."""
    try:
        return client.charge(txid)
    except PspError as error:
        if error.unavailable:
            raise
        report.errors.append(f"payment {payment_id}: {error}")
        return None


def _take(
    pix: ReceivedPix | InvalidPixItemError, clock_tolerance: timedelta, report: Report, tells_pages: bool
) -> None:
    if isinstance(pix, InvalidPixItemError):
        # Keyed and kept by the item itself: two different Pix unreadable for the same reason are two notices.
        raw = item_json(pix.item)
        if keep_unreadable_notice(SOURCE, digest_key(raw), raw, f"the PSP listed an unreadable Pix: {pix}"):
            report.outcomes[NoticeOutcome.INVALID] += 1
        return
    raw = item_json(pix.raw)
    notice = BankNotice(SOURCE, pix.end_to_end_id, pix.value, raw, txid=pix.txid, transferred_at=pix.paid_at)
    result = apply_notice(notice, clock_tolerance, tell_live=tells_pages)
    for refund in pix.refunds:
        record_refund_state(refund.refund_id, refund.status, None, value=refund.value, of_pix=pix.end_to_end_id)
    if result.replayed:
        return  # its webhook, or an earlier run, already brought it
    report.outcomes[result.outcome] += 1
    if result.outcome == NoticeOutcome.APPLIED:
        log.warning("reconciliation found payment %s paid: its webhook never came", result.payment.id)
        if tells_pages:
            publish_event("payment.paid", result.payment)
