"""Prometheus metrics: what operators count and time, and the scrape that renders them.

Counters and histograms live in each process. With several server processes, either scrape each one, or set
PROMETHEUS_MULTIPROC_DIR (an empty folder shared by the processes of one machine, emptied at each start) and
any process answers for all of them. What the database knows (the webhook queue) is read at scrape time.
"""

import os
import time
from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector

# Milliseconds to a minute: confirmations and webhook attempts live between.
SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

PAYMENTS_CREATED = Counter("pix_payments_created", "Payments created", ["provider"])
PAYMENTS_PAID = Counter("pix_payments_paid", "Payments paid (by a bank notice or reconciliation)", ["provider"])
PAYMENTS_EXPIRED = Counter("pix_payments_expired", "Payments recorded as expired unpaid")
BANK_NOTICES = Counter("pix_bank_notices", "Bank notices by format and what became of them", ["source", "outcome"])
SIGNATURE_FAILURES = Counter("pix_webhook_signature_failures", "Bank webhooks refused before reading", ["webhook"])
CONFIRMATION_TO_EVENT = Histogram(
    "pix_confirmation_to_event_seconds", "From a bank notice's arrival to the waiting page's event", buckets=SECONDS
)
HTTP_REQUESTS = Histogram(
    "pix_http_request_duration_seconds",
    "HTTP requests by route and status",
    ["method", "route", "status"],
    buckets=SECONDS,
)
RATE_LIMITED = Counter("pix_rate_limited", "Requests refused with 429", ["route"])
SOCKET_CONNECTIONS = Gauge("pix_socketio_connections", "Socket.IO connections open", multiprocess_mode="livesum")
PAGES_SUBSCRIBED = Gauge("pix_pages_subscribed", "Waiting pages subscribed to a payment", multiprocess_mode="livesum")
DELIVERIES = Counter("pix_webhook_deliveries", "Attempts at merchant webhooks by outcome", ["outcome"])
DELIVERY_SECONDS = Histogram("pix_webhook_attempt_seconds", "Duration of merchant webhook attempts", buckets=SECONDS)
# Long-lived objects the server keeps out of the collector's sight (serving.freeze_survivors), per process: they
# follow the pages and pools held, so steady growth under a steady load means something dies in reference cycles.
GC_FROZEN_OBJECTS = Gauge(
    "pix_gc_frozen_objects", "Objects frozen out of full garbage collections", multiprocess_mode="all"
)
# A timer's lateness in the server's loop is how long every page and request there waited at that moment:
# a collection, a call that blocks, or more ready work than one core runs.
EVENT_LOOP_LAG = Histogram(
    "pix_event_loop_lag_seconds", "How late the server's loop woke a timer (every page waited as long)", buckets=SECONDS
)
# 0 while Redis does not carry this process's events both ways (the process goes on, and tells again what Redis
# missed once it is back); no sample without SOCKETIO_MESSAGE_QUEUE.
MESSAGE_QUEUE_UP = Gauge(
    "pix_message_queue_up", "Whether Redis carries this process's events", ["queue"], multiprocess_mode="liveall"
)
RECONCILIATION_RUNS = Counter("pix_reconciliation_runs", "Reconciliation runs by result", ["result"])
RECONCILIATION_FOUND = Counter("pix_reconciliation_found", "What reconciliation found, by outcome", ["outcome"])


class WebhookQueue(Collector):
    """The merchant webhook queue as the database holds it: pending and held deliveries, dead letters, and the
    age of the oldest undelivered event, the same whichever process is scraped."""

    def __init__(self, read: Callable[[], tuple[dict[str, int], datetime | None]]) -> None:
        self.read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            counts, oldest = self.read()
        except Exception:  # the scrape still answers, and says the database is down
            yield GaugeMetricFamily("pix_database_up", "Whether the database answered this scrape", value=0)
            return
        yield GaugeMetricFamily("pix_database_up", "Whether the database answered this scrape", value=1)
        depth = GaugeMetricFamily("pix_webhook_queue_depth", "Merchant webhook deliveries by status", labels=["status"])
        for status, count in sorted(counts.items()):
            depth.add_metric([status], count)
        yield depth
        age = time.time() - oldest.timestamp() if oldest else 0.0
        yield GaugeMetricFamily(
            "pix_webhook_oldest_undelivered_seconds", "Age of the oldest event not yet delivered (0: none)", value=age
        )


def current(gauge: Gauge) -> float:
    """A gauge's value in this process."""
    return gauge.collect()[0].samples[0].value


def render(queue: Collector) -> bytes:
    """The scrape: this process's metrics (or every process's, in multiprocess mode) and the webhook queue."""
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    database = CollectorRegistry()
    database.register(queue)
    return generate_latest(registry) + generate_latest(database)
