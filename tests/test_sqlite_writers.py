"""SQLite writers queue on locks that yield, in one process and across processes: a collision never stalls one."""

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from db_models.connections import configure_engine
from tests.live_server import GREEN_RUNTIMES, REPO_ROOT, python_in_repo

# The first writer holds its transaction open (a thread of this process across a yield, or another process, such
# as a worker or a CLI command); a second writes meanwhile; a ticker measures how long this process stood still.
COLLISION = """
import json, subprocess, sys, threading, time
import runtime
runtime.prepare(serving=True)
from sqlalchemy import create_engine, text
from db_models.connections import configure_engine

url, role = sys.argv[1], sys.argv[2]
engine = create_engine(url)
configure_engine(engine)

def hold(held):
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        held()
        time.sleep(0.3)  # a request that yields (a log line, an emit, the PSP) before it commits

if role == "holder":
    hold(lambda: print("holding", flush=True))
    sys.exit()
with engine.begin() as conn:
    conn.execute(text("CREATE TABLE t (x INTEGER)"))
if role == "process":
    holder = subprocess.Popen([sys.executable, __file__, url, "holder"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "holding\\n"
else:
    held = threading.Event()
    holder = threading.Thread(target=hold, args=(held.set,))
    holder.start()
    held.wait()
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

ticker, second = threading.Thread(target=tick), threading.Thread(target=write)
ticker.start(); second.start(); second.join(); done.set(); ticker.join()
failed = holder.wait() if role == "process" else holder.join()
with engine.connect() as conn:
    rows = conn.execute(text("SELECT x FROM t ORDER BY x")).scalars().all()
print(json.dumps({"rows": rows, "errors": errors, "longest_stall": max(gaps), "holder_failed": bool(failed)}))
"""


@pytest.mark.parametrize("first_writer", ["thread", "process"])
@pytest.mark.parametrize("runtime", [*GREEN_RUNTIMES, "threading"])
def test_a_second_writer_waits_without_stalling_the_process(tmp_path: Path, runtime: str, first_writer: str) -> None:
    script = tmp_path / "collision.py"
    script.write_text(COLLISION)
    env = {"PATH": "/usr/bin:/bin", "SOCKETIO_ASYNC_MODE": runtime, "PYTHONPATH": str(REPO_ROOT)}
    database = f"sqlite:///{tmp_path / 'writers.db'}"
    outcome = json.loads(python_in_repo(str(script), database, first_writer, env=env))
    assert outcome["errors"] == [] and not outcome["holder_failed"]
    assert outcome["rows"] == [1, 2]  # the second write waited for the first, then went in
    # Without the locks, the second writer waited inside SQLite's busy handler with every green thread stopped:
    # for the other process's whole transaction, or for 5 s and then failed when it was a thread of this one.
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
