"""The indexed client manager answers exactly as python-socketio's own, whatever clients do with their rooms."""

import itertools
from types import SimpleNamespace
from typing import Any

import socketio
from hypothesis import given, settings
from hypothesis import strategies as st

from routes.room_index import IndexedManager

CLIENTS = [f"eio-{n}" for n in range(4)]
NAMESPACES = ["/", "/operadores"]
ROOMS = ["payment:a", "payment:b", "operadores"]
operations = st.lists(
    st.tuples(
        st.sampled_from(["connect", "enter", "leave", "close", "disconnect"]),
        st.sampled_from(CLIENTS),
        st.sampled_from(NAMESPACES),
        st.sampled_from(ROOMS),
    ),
    max_size=60,
)


def manager_of(manager: socketio.Manager) -> socketio.Manager:
    """manager, with a server that numbers sids in order: two managers fed alike give the same sids."""
    numbers = itertools.count()
    manager.server = SimpleNamespace(eio=SimpleNamespace(generate_id=lambda: f"sid-{next(numbers)}"))
    manager.initialize()
    return manager


def apply(manager: socketio.Manager, sids: dict, operation: tuple[str, str, str, str]) -> Any:
    """One operation, as the server would make it; the error it raised, if any."""
    action, client, namespace, room = operation
    sid = sids.get((client, namespace))
    try:
        if action == "connect" and sid is None:
            sids[(client, namespace)] = manager.connect(client, namespace)
        elif action == "enter" and sid is not None:
            manager.enter_room(sid, namespace, room)
        elif action == "leave" and sid is not None:
            manager.leave_room(sid, namespace, room)
        elif action == "close":
            manager.close_room(room, namespace)
        elif action == "disconnect" and sid is not None:
            manager.disconnect(sid, namespace)
            del sids[(client, namespace)]
    except ValueError as error:
        return str(error)
    return None


@settings(max_examples=300, deadline=None)
@given(operations)
def test_rooms_are_the_same_as_the_librarys(steps: list[tuple[str, str, str, str]]) -> None:
    ours, theirs = manager_of(IndexedManager()), manager_of(socketio.Manager())
    sids: dict = {}
    for step in steps:
        assert apply(ours, dict(sids), step) == apply(theirs, sids, step)
        assert ours.rooms == theirs.rooms
        for (_, namespace), sid in sids.items():
            assert sorted(ours.get_rooms(sid, namespace)) == sorted(theirs.get_rooms(sid, namespace))
    assert (ours.pending_connect, ours.pending_disconnect) == (theirs.pending_connect, theirs.pending_disconnect)
    # Nothing is kept of a client that went away.
    assert set(ours.rooms_of) == {(namespace, sid) for (_, namespace), sid in sids.items()}
