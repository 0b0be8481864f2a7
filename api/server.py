"""Serving the application with gunicorn, a production WSGI server, and replacing its model while it runs.

The master process creates the application and loads the model (memory
maps of the bundle's ``.npy`` files) before it forks the workers, so the
workers share those pages instead of each loading a copy.

Reload: every ``RELOAD_INTERVAL`` seconds, and on SIGHUP, the master reads
``MODEL_DIR/CURRENT``. When it names another version, the master loads it,
then uses gunicorn's own reload: new workers fork with the new model, and
the old ones stop taking connections, finish the request they are serving
and exit. The listening socket stays open throughout, so no connection is
refused, and each worker serves one model, so each response comes from one
version. A version that fails to load is logged and skipped, and the old
workers keep serving.
"""

import gc
import json
import logging
import os
import select
import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path

from gunicorn import util
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.workers.sync import SyncWorker
from threadpoolctl import threadpool_limits

from api.model_holder import EXTENSION_KEY, ReloadError

logger = logging.getLogger(__name__)

METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"

# HTTP limits that gunicorn enforces before a request reaches Flask. It
# rejects a request that breaks one with a plain-text 400, 414 or 431.
MAX_REQUEST_LINE = 4094
MAX_HEADER_FIELDS = 50
MAX_HEADER_FIELD_SIZE = 8190


# Bytes of a request head that the read timeout looks at; a longer head is
# left to gunicorn's own limits.
_HEAD_PEEK_BYTES = 65536
_HEAD_POLL_SECONDS = 0.01
_CLOSE_DRAIN_SECONDS = 0.5


def _wait_for_request_head(client, timeout):
    """Return False when the request head (up to its blank line) has not arrived within ``timeout`` seconds.

    The bytes are only peeked at, so gunicorn's parser reads them afterwards
    as if nothing had happened. A head that arrives in one packet costs one
    ``select`` and one ``recv``; a head that trickles in is polled every
    ``_HEAD_POLL_SECONDS`` until the deadline.
    """
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        readable, _, _ = select.select([client], [], [], remaining)
        if not readable:
            return False
        head = client.recv(_HEAD_PEEK_BYTES, socket.MSG_PEEK)
        if not head or b"\r\n\r\n" in head or len(head) >= _HEAD_PEEK_BYTES:
            return True
        time.sleep(min(_HEAD_POLL_SECONDS, max(deadline - time.monotonic(), 0)))


class _NothingToDrain(OSError):
    """Raised by ``_ClientSocket.shutdown`` to end gunicorn's graceful close at once."""


class _ClientSocket(socket.socket):
    """A client connection whose graceful close skips the wait for the client when nothing is unread.

    After each response gunicorn's ``util.close_graceful`` (gunicorn 22 and
    later) half-closes the connection and then reads until the client
    closes its side, for up to 2 seconds. That drain guards against a reset
    that could discard the response, which the kernel sends when a socket
    closes with unread data. When nothing is unread, the plain close is
    safe, and waiting for the client only keeps the worker from its next
    request. ``close_graceful`` returns at once, and closes the socket, when
    ``shutdown`` raises ``OSError``.
    """

    def shutdown(self, how):
        super().shutdown(how)
        if how != socket.SHUT_WR:
            return
        self.settimeout(0)
        try:
            self.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            raise _NothingToDrain("nothing unread, the connection closes at once") from None
        except OSError:
            pass


class ReadTimeoutWorker(SyncWorker):
    """Gunicorn's sync worker with a timeout on reading from the client.

    Without it, a client that opens a connection and sends nothing keeps the
    worker busy until the master kills it after ``timeout`` seconds, and gunicorn
    then responds with 500. Here a request head that is not complete after
    ``read_timeout`` seconds gets a JSON 408 and the worker moves on. Each
    later read (the body) times out after the same time, which Werkzeug
    reports as a 400.
    """

    @property
    def read_timeout(self):
        return self.app.read_timeout

    def handle(self, listener, client, addr):
        client = _ClientSocket(client.family, client.type, client.proto, fileno=client.detach())
        if client.family in (socket.AF_INET, socket.AF_INET6) and hasattr(socket, "TCP_CORK"):
            # gunicorn writes the headers and the body in two calls; corked,
            # they leave as one segment when the connection is shut down
            # after the response (about 5% less CPU per request here).
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        client.settimeout(self.read_timeout)
        try:
            head_arrived = _wait_for_request_head(client, self.read_timeout)
        except OSError:
            head_arrived = True  # Let gunicorn's own handling see the broken connection.
        if head_arrived:
            super().handle(listener, client, addr)
            return

        self.log.warning("request head from %s not complete after %.1f s; responding with 408", addr[0] if addr else "?", self.read_timeout)
        body = json.dumps(
            {
                "error": {
                    "status": 408,
                    "code": "request_timeout",
                    "message": f"the request head did not arrive within {self.read_timeout:g} seconds",
                }
            }
        ).encode()
        response = (
            b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        try:
            client.sendall(response)
        except OSError:
            pass
        finally:
            # Closing with the unread head still in the buffer would make the
            # kernel send a reset, which can discard the 408 at the client.
            # gunicorn's helper sends FIN first and drains for a moment.
            util.close_graceful(client, timeout=_CLOSE_DRAIN_SECONDS)


def prepare_metrics_directory():
    """Point prometheus-client at an empty directory for the processes' metric files.

    Returns the directory and True when this call created it (and the caller
    should remove it at exit).

    Must run before ``prometheus_client`` is first imported, because the
    library picks its multi-process mode at import. An existing
    ``$PROMETHEUS_MULTIPROC_DIR`` is kept, with the ``.db`` files of an
    earlier run removed, because their values would otherwise be added to
    this run's.
    """
    existing = os.environ.get(METRICS_ENV)
    if existing:
        directory = Path(existing)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        return directory, False

    directory = Path(tempfile.mkdtemp(prefix="true-recommend-metrics-"))
    os.environ[METRICS_ENV] = str(directory)
    return directory, True


def warm_up_application(application):
    """Send one request of each kind through ``application`` in this process.

    The first request of a process pays for lazy set-up in Flask, Werkzeug
    (the URL matcher is compiled on first use) and the model's caches. In a
    freshly forked worker it also pays for page faults. Together that was
    5 to 15 ms on the bundled data. Running these requests before a worker accepts
    connections keeps that cost away from clients. The metrics skip them.
    """
    # Imported here, not at the top: this module is imported before
    # prepare_metrics_directory has set up prometheus-client's mode.
    from api.metrics import WARM_UP_ENVIRON_KEY

    model = application.extensions[EXTENSION_KEY].get()
    client = application.test_client()
    movie_id = model.catalogue.movie_ids.id_of(0)
    user_id = model.users.id_of(0) if len(model.users) else 0
    requests = [
        ("GET", f"/users/{user_id}/recommendations?n=10", None),
        ("POST", "/recommendations", {"ratings": [{"movie_id": movie_id, "rating": model.rating_scale[1]}], "n": 10}),
        ("GET", f"/movies/{movie_id}/similar?n=10", None),
        ("GET", "/movies?q=a&limit=10", None),
        ("GET", f"/users/{user_id}/predictions?movie_ids={movie_id}", None),
        ("GET", f"/users/{user_id}/ratings", None),
        ("GET", "/health", None),
    ]
    for method, path, body in requests:
        response = client.open(path, method=method, json=body, environ_overrides={WARM_UP_ENVIRON_KEY: True})
        if response.status_code != 200:
            logger.warning("warm-up request %s %s got status %d", method, path, response.status_code)


def _close_store(application):
    from api.ratings_store import EXTENSION_KEY as STORE_KEY

    extension = application.extensions.get(STORE_KEY)
    if extension is not None and extension.store is not None:
        extension.store.close()


def _pre_fork(server, worker):
    # Objects that exist before the fork move to the garbage collector's
    # permanent generation, so collections in the workers do not write to
    # their headers and copy the master's pages into every worker.
    gc.freeze()


def _post_fork(server, worker):
    # Each worker handles one request at a time; BLAS or OpenMP pools inside
    # every worker would oversubscribe the cores, and OpenBLAS pools created
    # before fork can hang in the child.
    threadpool_limits(1)
    master = server.pid
    worker.app.holder.delegate_reloads(lambda: os.kill(master, signal.SIGHUP))
    warm_up_application(worker.app.application)


def _child_exit(server, worker):
    # The live gauges of an exited worker (the model version it served) must
    # leave the scrape; its counters and histograms stay in the totals.
    if os.environ.get(METRICS_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


class ModelArbiter(Arbiter):
    """Gunicorn's master loop, plus a watch of the model directory and a model reload on SIGHUP."""

    def __init__(self, app):
        self.holder = app.holder
        self._next_check = time.monotonic() + self.holder.reload_interval
        self._watch_triggered = False
        super().__init__(app)

    def wait_for_signals(self, timeout=1.0):
        signals = super().wait_for_signals(timeout)
        interval = self.holder.reload_interval
        if interval <= 0 or signal.SIGHUP in signals or time.monotonic() < self._next_check:
            return signals

        self._next_check = time.monotonic() + interval
        if self.holder.new_version_published():
            logger.info("model version %s was published in %s", self.holder.published_version(), self.holder.model_dir)
            self._watch_triggered = True
            signals.append(signal.SIGHUP)
        return signals

    def handle_hup(self):
        watch_triggered, self._watch_triggered = self._watch_triggered, False
        try:
            outcome = self.holder.reload()
        except ReloadError as error:
            logger.error("reload failed: %s", error)
            if watch_triggered:
                # Nothing changed, so the workers keep running.
                return
        else:
            logger.info("master loaded model version %s (%s)", outcome.model_version, outcome.status)
            if outcome.status == "reloaded":
                # Nothing in the master refers to the previous model any more;
                # a collection frees its reference cycles before the next freeze.
                gc.unfreeze()
                gc.collect()
        super().handle_hup()


class GunicornServer(BaseApplication):
    """Runs an already created Flask application under gunicorn, with ``ModelArbiter`` as the master loop.

    The application, and with it the memory-mapped model, is created in the
    master process before the workers fork, so the workers share the model's
    pages instead of each loading a copy.
    """

    def __init__(self, application, holder, options, read_timeout):
        self.application = application
        self.holder = holder
        self.options = options
        self.read_timeout = read_timeout
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.application

    def run(self):
        ModelArbiter(self).run()


def serve(application, *, host, port, workers, timeout=10, read_timeout=5.0, access_log=False):
    """Serve ``application`` on ``host:port`` with ``workers`` processes until stopped.

    Parameters
    ----------
    timeout : int
        Seconds a worker may spend on one request before the master kills
        and replaces it; also the time old workers get to finish their
        request on a reload or shutdown.
    read_timeout : float
        Seconds a client has to send its request head, and at most between
        two reads of its body; must be below ``timeout``.
    """
    if not 0 < read_timeout < timeout:
        raise ValueError(f"the read timeout must be above 0 and below the worker timeout ({timeout} s), got {read_timeout} s")

    holder = application.extensions[EXTENSION_KEY]
    holder.get()
    # Only now are all libraries with thread pools loaded (NumPy's and
    # SciPy's OpenBLAS, the OpenMP runtimes of implicit and numba).
    threadpool_limits(1)
    warm_up_application(application)
    # The warm-up read the ratings store; no connection should cross the fork.
    _close_store(application)

    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": ReadTimeoutWorker,
        "timeout": timeout,
        "graceful_timeout": timeout,
        "limit_request_line": MAX_REQUEST_LINE,
        "limit_request_fields": MAX_HEADER_FIELDS,
        "limit_request_field_size": MAX_HEADER_FIELD_SIZE,
        "pre_fork": _pre_fork,
        "post_fork": _post_fork,
        "child_exit": _child_exit,
        "accesslog": "-" if access_log else None,
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "true-recommend",
        # gunicorn's control socket lives at one path per user, which two
        # servers on one machine would share; this server does not use it.
        "control_socket_disable": True,
    }
    logger.info(
        "serving model version %s from %s on http://%s:%d with %d gunicorn workers",
        holder.version,
        holder.model_dir,
        host,
        port,
        workers,
    )
    GunicornServer(application, holder, options, float(read_timeout)).run()


def remove_metrics_directory(directory):
    """Delete a metrics directory that ``prepare_metrics_directory`` created."""
    shutil.rmtree(directory, ignore_errors=True)
