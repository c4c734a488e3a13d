"""A TCP forwarder on 127.0.0.1 that a test can stall: a database that stops answering.

``with StallingProxy("127.0.0.1", 5432) as proxy:`` listens on ``proxy.port`` and forwards
every connection to the target. ``proxy.stall()`` stops forwarding in both directions
(bytes are held, connections stay open, new ones are accepted but not connected on), as a
hung server or a black-holed network does; ``proxy.stall_on(b"COMMIT")`` stalls the
moment a client sends those bytes, before forwarding them (a commit lost in transit until
the network heals); ``proxy.resume()`` delivers what was held and forwards again.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading


class StallingProxy:
    """Forward ``127.0.0.1:port`` to ``(host, target_port)`` until told to stall."""

    def __init__(self, host: str, target_port: int) -> None:
        self.target = (host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = threading.Event()
        self._trigger: bytes | None = None
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []

    def __enter__(self) -> StallingProxy:
        self._spawn(self._accept)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def stall(self) -> None:
        """Stop forwarding: what either side sends from now on is held."""
        self._flowing.clear()

    def stall_on(self, pattern: bytes) -> None:
        """Stall when a client next sends ``pattern`` (that message is held too)."""
        self._trigger = pattern

    def resume(self) -> None:
        """Forward again, held bytes first."""
        self._flowing.set()

    def close(self) -> None:
        """Stop listening and drop every connection."""
        self._closed.set()
        self._flowing.set()
        for sock in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.close()
        for thread in self._threads:
            thread.join(5)

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._sockets.append(client)
            self._spawn(self._connect, client)

    def _connect(self, client: socket.socket) -> None:
        self._flowing.wait()  # a stalled proxy does not connect on either
        if self._closed.is_set():
            return
        try:
            server = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        server.settimeout(None)
        self._sockets.append(server)
        self._spawn(self._pump, client, server, True)
        self._spawn(self._pump, server, client, False)

    def _pump(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(source, selectors.EVENT_READ)
            while not self._closed.is_set():
                if not selector.select(timeout=0.2):
                    continue
                try:
                    data = source.recv(65536)
                except OSError:
                    return
                if from_client and self._trigger is not None and self._trigger in data:
                    self._trigger = None
                    self._flowing.clear()
                self._flowing.wait()  # stalled: hold the bytes until resumed
                try:
                    if not data:
                        sink.shutdown(socket.SHUT_WR)
                        return
                    sink.sendall(data)
                except OSError:
                    return
