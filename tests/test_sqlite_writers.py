"""SQLite writers queue on locks that yield, in one process and across processes: a collision never stalls one."""

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from db_models.connections import configure_engine
from tests.live_server import GREEN_RUNTIMES, python_in_repo

# One writer holds its transaction open across a yield; a second writes meanwhile; a ticker measures the stall.
COLLISION = """
import json, sys, threading, time
import runtime
runtime.prepare(serving=True)
from sqlalchemy import create_engine, text
from db_models.connections import configure_engine

engine = create_engine(sys.argv[1])
configure_engine(engine)
with engine.begin() as conn:
    conn.execute(text("CREATE TABLE t (x INTEGER)"))
gaps, errors, done = [], [], threading.Event()

def tick():
    last = time.monotonic()
    while not done.is_set():
        time.sleep(0.005)
        gaps.append(time.monotonic() - last)
        last = time.monotonic()

def write(value, hold):
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": value})
            time.sleep(hold)  # a request that yields (a log line, an emit, the PSP) before it commits
    except Exception as error:
        errors.append(repr(error))

threads = [threading.Thread(target=tick), threading.Thread(target=write, args=(1, 0.3))]
threads[0].start(); threads[1].start(); time.sleep(0.05)
second = threading.Thread(target=write, args=(2, 0)); second.start()
threads[1].join(); second.join(); done.set(); threads[0].join()
with engine.connect() as conn:
    rows = conn.execute(text("SELECT x FROM t ORDER BY x")).scalars().all()
print(json.dumps({"rows": rows, "errors": errors, "longest_stall": max(gaps)}))
"""


@pytest.mark.parametrize("runtime", [*GREEN_RUNTIMES, "threading"])
def test_a_second_writer_waits_without_stalling_the_process(tmp_path: Path, runtime: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "SOCKETIO_ASYNC_MODE": runtime}
    outcome = json.loads(python_in_repo("-c", COLLISION, f"sqlite:///{tmp_path / 'writers.db'}", env=env))
    assert outcome["errors"] == []
    assert outcome["rows"] == [1, 2]
    # Before the lock, the second writer waited inside SQLite for 5 s with every green thread stopped, then failed.
    assert outcome["longest_stall"] < 0.1


# Another process (a worker, a CLI command) holds a write open while this one, on a green runtime, writes too.
HELD_BY_ANOTHER_PROCESS = """
import json, subprocess, sys, threading, time
import runtime
runtime.prepare(serving=True)
from sqlalchemy import create_engine, text
from db_models.connections import configure_engine

HOLDER = '''
import sys, time
from sqlalchemy import create_engine, text
from db_models.connections import configure_engine
engine = create_engine(sys.argv[1])
configure_engine(engine)
with engine.begin() as conn:
    conn.execute(text("INSERT INTO t VALUES (1)"))
    print("holding", flush=True)
    time.sleep(0.5)
'''
engine = create_engine(sys.argv[1])
configure_engine(engine)
with engine.begin() as conn:
    conn.execute(text("CREATE TABLE t (x INTEGER)"))
holder = subprocess.Popen([sys.executable, "-c", HOLDER, sys.argv[1]], stdout=subprocess.PIPE, text=True)
assert holder.stdout.readline() == "holding\\n"
gaps, errors, done = [], [], threading.Event()

def tick():
    last = time.monotonic()
    while not done.is_set():
        time.sleep(0.005)
        gaps.append(time.monotonic() - last)
        last = time.monotonic()

def write():
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (2)"))
    except Exception as error:
        errors.append(repr(error))

ticker, writer = threading.Thread(target=tick), threading.Thread(target=write)
ticker.start(); writer.start(); writer.join(); done.set(); ticker.join()
holder.wait()
with engine.connect() as conn:
    rows = conn.execute(text("SELECT x FROM t ORDER BY x")).scalars().all()
print(json.dumps({"rows": rows, "errors": errors, "longest_stall": max(gaps), "holder": holder.returncode}))
"""


@pytest.mark.parametrize("runtime", GREEN_RUNTIMES)
def test_a_writer_of_another_process_makes_this_one_wait_without_stalling_it(tmp_path: Path, runtime: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "SOCKETIO_ASYNC_MODE": runtime}
    database = f"sqlite:///{tmp_path / 'writers.db'}"
    outcome = json.loads(python_in_repo("-c", HELD_BY_ANOTHER_PROCESS, database, env=env))
    assert outcome["errors"] == [] and outcome["holder"] == 0
    assert outcome["rows"] == [1, 2]  # the second write waited for the first, then went in
    # Before the lock shared between processes, this one sat in SQLite's busy handler for the other's 0.5 s.
    assert outcome["longest_stall"] < 0.1


@pytest.fixture
def engine(tmp_path: Path):
    engine = create_engine(f"sqlite:///{tmp_path / 'writers.db'}")
    configure_engine(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    yield engine
    engine.dispose()


def _write_quickly(engine) -> float:
    started = time.monotonic()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
    return time.monotonic() - started


def test_a_transaction_that_fails_lets_the_next_writer_in_at_once(engine) -> None:
    with pytest.raises(ZeroDivisionError), engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (0)"))
        _ = 1 / 0
    assert _write_quickly(engine) < 1


def test_a_connection_given_back_mid_transaction_lets_the_next_writer_in_at_once(engine) -> None:
    conn = engine.connect()
    conn.execute(text("INSERT INTO t VALUES (0)"))
    conn.close()  # neither committed nor rolled back: the pool rolls it back
    assert _write_quickly(engine) < 1
    with engine.connect() as check:
        assert check.execute(text("SELECT count(*) FROM t")).scalar_one() == 1


def test_a_connection_dropped_mid_transaction_lets_the_next_writer_in_at_once(engine) -> None:
    conn = engine.connect()
    conn.execute(text("INSERT INTO t VALUES (0)"))
    conn.invalidate()  # as after a driver error: its DBAPI connection is closed
    assert _write_quickly(engine) < 1
