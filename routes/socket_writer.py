"""Websocket connections without a writer green thread each: whoever sends starts one, and it ends when done.

Engine.IO gives every websocket connection a reader (the request's own green thread) and a writer that waits on
the connection's queue for its whole life: at 10,000 waiting pages, 10,000 writers of about 8 KiB each that wake
once per ping. Here the queue stays (close, the send budget and the upgrade from polling read it), but a writer
is started only when a packet is queued and none is running, and it ends once the queue is empty; nothing can
queue in between, as green threads switch only where they wait. A client that does not read holds its own
writer, never the sender's thread.

`OnDemandWriterSocket._websocket_handler` follows python-engineio's own (pinned), its writer thread aside; it is
for the green runtimes only, where Engine.IO's queue is not shared with real threads.
tests/test_runtimes.py, tests/test_shared_pings.py and tests/test_socket_abuse.py check it on the real server.
"""

import contextlib
from typing import Any

from engineio import exceptions, packet

from routes.shared_pings import SharedPingSocket


class OnDemandWriterSocket(SharedPingSocket):
    """An Engine.IO socket whose websocket writer runs only while packets wait."""

    websocket: Any = None  # set once the connection is a websocket
    writing = False

    def send(self, pkt: packet.Packet) -> None:
        super().send(pkt)
        self._write_soon()

    def close(self, wait: bool = True, abort: bool = False, reason: Any = None) -> None:
        super().close(wait=False, abort=abort, reason=reason)
        self._write_soon()  # the goodbye, if any, and the end of the queue
        if wait:
            self.queue.join()

    def _write_soon(self) -> None:
        if self.websocket is not None and not self.writing and not self.queue.empty():
            self.writing = True
            self.server.start_background_task(self._write, self.websocket)

    def _write(self, ws: Any) -> None:
        """Send what is queued, then end; the end of the queue (None) closes the websocket."""
        empty = self.server.get_queue_empty_exception()
        try:
            while True:
                try:
                    pkt = self.queue.get(block=False)
                except empty:
                    return
                self.queue.task_done()
                if pkt is None:
                    break
                ws.send(pkt.encode())
        except Exception:  # noqa: S110  (the client is gone: its reader sees the connection end)
            pass
        finally:
            self.writing = False
        with contextlib.suppress(Exception):  # closed already, when the reader ended first
            ws.close()

    def _upgrade(self, ws: Any, websocket_wait: Any) -> bool:
        """Engine.IO's upgrade handshake: the client's probe, our answer, then its UPGRADE."""
        probe = packet.Packet(encoded_packet=websocket_wait())
        if probe.packet_type != packet.PING or probe.data != "probe":
            return False
        ws.send(packet.Packet(packet.PONG, data="probe").encode())
        self.queue.put(packet.Packet(packet.NOOP))  # ends the pending poll
        return packet.Packet(encoded_packet=websocket_wait()).packet_type == packet.UPGRADE

    def _websocket_handler(self, ws: Any) -> list:
        """Engine.IO's websocket loop: upgrade if the connection began polling, then read until it ends."""

        def websocket_wait() -> Any:
            data = ws.wait()
            if data and len(data) > self.server.max_http_buffer_size:
                raise ValueError("packet is too large")
            return data

        for attr in ["_sock", "socket"]:
            if hasattr(ws, attr) and hasattr(getattr(ws, attr), "settimeout"):
                getattr(ws, attr).settimeout(self.server.ping_interval + self.server.ping_timeout)
        if self.connected:  # an upgrade from polling: hold packet sends until it is over
            self.upgrading = True
            try:
                self.upgraded = self._upgrade(ws, websocket_wait)
            except (OSError, ValueError):  # the client left mid-handshake, or sent a frame too large
                self.upgraded = False
            self.upgrading = False
            if not self.upgraded:
                return []
        else:
            self.connected = self.upgraded = True
        self.websocket = ws
        self._write_soon()  # whatever was queued before
        while True:
            try:
                frame = websocket_wait()
            except Exception:
                break
            if frame is None:  # the client closed the connection
                break
            pkt = packet.Packet(encoded_packet=frame)  # a bad frame ends the connection, as in Engine.IO's loop
            try:
                self.receive(pkt)
            except exceptions.UnknownPacketError:
                pass
            except exceptions.SocketIsClosedError:
                break
            except Exception:
                self.server.logger.exception("Unknown receive error")
                break
        self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_CLOSE)
        # The ping queue keeps a closed connection until its ping falls due: not its websocket and buffers too.
        self.websocket = None
        return []
