"""What `python app.py` runs: the background jobs, the collector's freezer, and the server for its runtime."""

import gc
import itertools
import resource
import time
from collections.abc import Callable, Iterable

from flask import Flask

import metrics
from db_models import db
from extensions import socketio
from green_servers import eventlet_server, gevent_server
from jobs.deliveries import run_worker
from jobs.live_relay import publish_new_events, tell_again
from jobs.periodic import run_every
from jobs.reconciliation import reconcile
from routes.redis_channel import CatchingUpChannel

LIVE_RELAY_SECONDS = 1.0
GC_FREEZE_SECONDS = 1.0
GC_COUNT_EVERY = 60
LAG_PROBE_SECONDS = 0.1


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
    """Tell waiting pages what other processes committed, and again what Redis failed to carry; for the embedded
    default, deliver webhooks here."""
    channel = socketio.server.manager if isinstance(socketio.server.manager, CatchingUpChannel) else None

    def relay() -> None:
        with app.app_context():
            try:
                if channel is not None:
                    metrics.MESSAGE_QUEUE_UP.labels("redis").set(channel.carries())
                    if (missed := channel.missed()) is not None:
                        tell_again(missed.since, here_only=not missed.everyone)
                        channel.caught_up(missed)
                publish_new_events()
            finally:
                db.session.remove()

    socketio.start_background_task(run_every, LIVE_RELAY_SECONDS, relay, socketio.sleep)
    if app.config["PIX_WORKER_IN_SERVER"]:
        socketio.start_background_task(run_worker, app, socketio.sleep, app.config["WEBHOOK_WORKER_CONCURRENCY"])


def freeze_survivors(run: int) -> None:
    """Collect the young generations, then move every survivor out of the collector's sight for good.

    A full collection stops every green thread for as long as it takes to visit every tracked object: about
    1 s at 10,000 waiting pages. Objects that lived through a young collection are, here, nearly all long-lived
    (pages, pools, caches) and are freed by reference counting when they go (a page leaves no cycle behind), so
    the collector need never visit them again; full collections then only see what is newer than a second.
    Counting what is frozen walks every frozen object (22 ms at 2 million, a stall for every page), so that is
    done on the first run and every GC_COUNT_EVERY runs.
    """
    gc.collect(1)
    gc.freeze()
    if run % GC_COUNT_EVERY == 0:
        metrics.GC_FROZEN_OBJECTS.set(gc.get_freeze_count())


def start_gc_freezer() -> None:
    """Keep full collections short: freeze_survivors every GC_FREEZE_SECONDS."""
    runs = itertools.count()
    socketio.start_background_task(run_every, GC_FREEZE_SECONDS, lambda: freeze_survivors(next(runs)), socketio.sleep)


def watch_loop_lag(sleep: Callable[[float], object], rounds: Iterable[object] | None = None) -> None:
    """Sleep LAG_PROBE_SECONDS at a time, for ever (or once per item of rounds), and record how late each wake-up
    was in pix_event_loop_lag_seconds: the stalls an operator's pinger would see, seen from inside."""
    for _ in itertools.count() if rounds is None else rounds:
        asked = time.perf_counter()
        sleep(LAG_PROBE_SECONDS)
        metrics.EVENT_LOOP_LAG.observe(max(0.0, time.perf_counter() - asked - LAG_PROBE_SECONDS))


def serve(app: Flask, host: str, port: int) -> None:
    """Serve app and its websockets until interrupted, on the runtime this process was prepared for."""
    start_reconciliation(app)
    start_outbox_jobs(app)
    start_gc_freezer()
    socketio.start_background_task(watch_loop_lag, socketio.sleep)
    if socketio.async_mode == "threading":
        socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True)
        return
    # Each waiting page holds a socket and a green thread: lift the default limit of 1,024 descriptors.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    # Keep startup objects out of every later garbage collection: shorter pauses for all pages. Collect first:
    # startup leaves garbage in cycles (the migrations' tables), which frozen would never be freed.
    gc.collect()
    gc.freeze()
    server = eventlet_server if socketio.async_mode == "eventlet" else gevent_server
    server(app, host, port)
