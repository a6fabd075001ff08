"""Real local servers standing in for OpenAI, Twilio and SMTP in tests.

Each one listens on 127.0.0.1 on a port the OS picks, runs in a background thread, records
what it receives under a lock, and is reached through the services' official clients over
real HTTP or SMTP: nothing in the client libraries is mocked. The HTTP ones share
``LocalWSGIServer`` below; ``fixtures.py`` turns them into pytest fixtures.
"""

from __future__ import annotations

import logging
import socket
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypedDict

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

LOOPBACK = "127.0.0.1"

# How often serve_forever checks for shutdown: short, so stopping a server costs little per test.
_POLL_SECONDS = 0.05
# How long stop() waits for a request thread after cutting its connection.
_JOIN_SECONDS = 5.0

log = logging.getLogger("tests.servers")


class RecordedRequest(TypedDict):
    """One HTTP request as a server received it; header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any  # the JSON body, or the form fields for form-encoded APIs (Twilio)


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler, logging through ``tests.servers`` instead of printing to stderr."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the real services and their clients use

    def log(self, type: str, message: str, *args: Any) -> None:
        log.log(logging.ERROR if type == "error" else logging.DEBUG, message.rstrip("\n"), *args)


class _TrackingServer(ThreadedWSGIServer):
    """A threaded WSGI server that knows its open connections, so stop() can end them.

    socketserver does not wait for daemon request threads, and a client's keep-alive
    connection keeps its thread blocked on the next request; closing the server must cut
    those connections and join the threads, or they outlive the test.
    """

    daemon_threads = True
    block_on_close = False

    def __init__(self, app: WSGIApplication) -> None:
        super().__init__(LOOPBACK, 0, app, handler=_QuietHandler)
        self._connections_lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"{type(self).__name__}-request",
            daemon=True,
        )
        with self._connections_lock:
            self._connections[request] = thread
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.pop(request, None)
        super().shutdown_request(request)

    def log(self, type: str, message: str, *args: Any) -> None:
        log.log(logging.ERROR if type == "error" else logging.DEBUG, message, *args)

    def close_connections(self) -> None:
        """Cut every connection still open and wait for its thread to finish."""
        with self._connections_lock:
            open_now = list(self._connections.items())
        for connection, _thread in open_now:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the client closed it first
        for _connection, thread in open_now:
            thread.join(_JOIN_SECONDS)


class LocalWSGIServer:
    """Serves a WSGI app on 127.0.0.1:<free port> in a thread between start() and stop()."""

    name = "local"

    def __init__(self) -> None:
        self._server: _TrackingServer | None = None
        self._thread: threading.Thread | None = None

    def wsgi_app(self, environ: Any, start_response: Any) -> Any:
        """The application served; subclasses implement it."""
        raise NotImplementedError

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"the {self.name} server is not running; call start() first")
        return int(self._server.port)

    @property
    def url(self) -> str:
        """The server's root URL, ``http://127.0.0.1:PORT``."""
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError(f"the {self.name} server is already running")
        self._server = _TrackingServer(self.wsgi_app)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _POLL_SECONDS},
            name=f"{self.name}-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end open connections and release the port; safe to call twice."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        thread.join()
        server.close_connections()
        server.server_close()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
