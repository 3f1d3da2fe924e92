"""A TCP relay in front of a real service that a test can cut and restore, to stage that service's outage; and a
network that silently drops a port's packets (iptables), as a vanished host or a moved address does."""

import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from tests.external_tools import missing, require_executable


class CuttableProxy:
    """Relays 127.0.0.1:port to target; cut() drops every connection and closes new ones at once, as a service
    that went away would, until restore()."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.connections: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.relaying = threading.Event()  # cleared while frozen
        self.relaying.set()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        """Drop every relayed connection; refuse the next ones until restore()."""
        with self.lock:
            self.open = False
            for connection in self.connections:
                _close(connection)
            self.connections.clear()

    def freeze(self) -> None:
        """Relay nothing more, dropping no connection: a service that hangs, or a network that lost its packets."""
        self.relaying.clear()

    def restore(self) -> None:
        """Relay again."""
        with self.lock:
            self.open = True
        self.relaying.set()

    def close(self) -> None:
        """Stop listening and drop everything."""
        self.restore()
        self.cut()
        _close(self.listener)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(self.target, timeout=5) if self.open else None
            except OSError:
                upstream = None
            with self.lock:
                if upstream is None or not self.open:
                    _close(client)
                    if upstream is not None:
                        _close(upstream)
                    continue
                self.connections |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                self.relaying.wait()
                sink.sendall(data)
        except OSError:
            pass
        with self.lock:
            for connection in (source, sink):
                self.connections.discard(connection)
                _close(connection)


def _close(connection: socket.socket) -> None:
    with suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
    connection.close()


@contextmanager
def cuttable_proxy(target: tuple[str, int]) -> Iterator[CuttableProxy]:
    """A CuttableProxy to target, closed afterwards."""
    proxy = CuttableProxy(target)
    try:
        yield proxy
    finally:
        proxy.close()


@contextmanager
def packets_dropped(port: int) -> Iterator[None]:
    """Every TCP packet to or from port on this machine silently dropped while inside: unlike a frozen relay, the
    relay's kernel no longer acknowledges anything either, as with a host that vanished mid-connection."""
    iptables = require_executable("iptables", "drop a relay's packets as a network that lost its host does")
    if os.geteuid() != 0:
        missing("iptables needs root to drop a relay's packets as a network that lost its host does")
    rules = [["INPUT", "-p", "tcp", direction, str(port), "-j", "DROP"] for direction in ("--dport", "--sport")]
    for rule in rules:
        subprocess.run([iptables, "-I", *rule], check=True)
    try:
        yield
    finally:
        for rule in rules:
            subprocess.run([iptables, "-D", *rule], check=True)
