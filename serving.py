"""The eventlet server behind `python app.py`: many idle pages, and no connection held by a silent client."""

import gc
import resource

from flask import Flask

import metrics
from db_models import db
from extensions import socketio
from jobs.deliveries import run_worker
from jobs.live_relay import publish_new_events
from jobs.periodic import run_every
from jobs.reconciliation import reconcile

MAX_GREEN_THREADS = 20_000
LISTEN_BACKLOG = 2048
LIVE_RELAY_SECONDS = 1.0
GC_FREEZE_SECONDS = 1.0


def start_reconciliation(app: Flask) -> None:
    """Reconcile with the PSP every PIX_RECONCILE_SECONDS in the background (a lease keeps it to one process)."""
    seconds = app.config["PIX_RECONCILE_SECONDS"]
    client = getattr(app.extensions["pix_provider"], "client", None)
    if not seconds or client is None:
        return

    def run() -> None:
        with app.app_context():
            try:
                reconcile(client, app.config["PIX_CLOCK_TOLERANCE"])
            finally:
                db.session.remove()

    socketio.start_background_task(run_every, seconds, run, socketio.sleep)


def start_outbox_jobs(app: Flask) -> None:
    """Tell waiting pages what other processes committed and, for the embedded default, deliver webhooks here."""

    def relay() -> None:
        with app.app_context():
            try:
                publish_new_events()
            finally:
                db.session.remove()

    socketio.start_background_task(run_every, LIVE_RELAY_SECONDS, relay, socketio.sleep)
    if app.config["PIX_WORKER_IN_SERVER"]:
        socketio.start_background_task(run_worker, app, socketio.sleep, app.config["WEBHOOK_WORKER_CONCURRENCY"])


def freeze_survivors() -> None:
    """Collect the young generations, then move every survivor out of the collector's sight for good.

    A full collection stops every green thread for as long as it takes to visit every tracked object: about
    1 s at 10,000 waiting pages. Objects that lived through a young collection are, here, nearly all long-lived
    (pages, pools, caches) and are freed by reference counting when they go (a page leaves no cycle behind), so
    the collector need never visit them again; full collections then only see what is newer than a second.
    """
    gc.collect(1)
    gc.freeze()
    metrics.GC_FROZEN_OBJECTS.set(gc.get_freeze_count())


def start_gc_freezer() -> None:
    """Keep full collections short: freeze_survivors every GC_FREEZE_SECONDS."""
    socketio.start_background_task(run_every, GC_FREEZE_SECONDS, freeze_survivors, socketio.sleep)


def serve(app: Flask, host: str, port: int) -> None:
    """Serve app and its websockets until interrupted."""
    start_reconciliation(app)
    start_outbox_jobs(app)
    start_gc_freezer()
    if app.config["SOCKETIO_ASYNC_MODE"] != "eventlet":
        socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True)
        return
    import eventlet.wsgi

    class DeadlineProtocol(eventlet.wsgi.HttpProtocol):
        """HTTP/1.1 whose request line and headers must arrive in time, however slowly they trickle."""

        # Per-read socket timeouts alone let a client send one byte just before each runs out.
        header_deadline = app.config["HTTP_IDLE_TIMEOUT"] + app.config["HTTP_HEADER_TIMEOUT"]
        # A waiting page's connection keeps these buffers while its websocket (which reads and writes the socket
        # itself) lives: eventlet's 8 and 16 KiB were a third of a page's memory; 4 KiB hold any of our answers.
        rbufsize = wbufsize = 4096

        def handle_one_request(self) -> None:
            self.deadline = eventlet.Timeout(self.header_deadline, TimeoutError("request headers too slow"))
            try:
                super().handle_one_request()
            finally:
                self.deadline.cancel()

        def parse_request(self) -> bool:
            parsed = super().parse_request()
            self.deadline.cancel()  # the headers are in: the application may take its time
            return parsed

        def finish(self) -> None:
            super().finish()
            # The environ holds eventlet's set_idle closure over this protocol: without letting go of it, every
            # connection (every page that leaves) would end as garbage only a full collection frees.
            self.environ = None

    # Each waiting page holds a socket and a green thread: lift the defaults of 1,024 of each.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    listener = eventlet.listen((host, port), backlog=LISTEN_BACKLOG)
    # Keep startup objects out of every later garbage collection: shorter pauses for all pages.
    gc.freeze()
    eventlet.wsgi.server(
        listener,
        app,
        max_size=MAX_GREEN_THREADS,
        log_output=False,
        debug=False,  # eventlet would otherwise put tracebacks in the body of a 500
        protocol=DeadlineProtocol,
        keepalive=app.config["HTTP_IDLE_TIMEOUT"],  # waiting for the next request on a kept-alive connection
        socket_timeout=app.config["HTTP_IDLE_TIMEOUT"],  # a read or write that stalls mid-request
    )
