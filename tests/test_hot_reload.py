"""The real server (``true-recommend serve`` under gunicorn): hot reload, limits, timeouts and metrics.

Each server runs as a subprocess on a free port of 127.0.0.1 and is stopped
with SIGTERM at the end of the module.
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from api import create_app
from hybrid.bundle import VERSIONS_DIR, publish_version
from hybrid.model import HybridRecommender
from tests.model_versions import copy_model_dir, two_version_template

TOKEN = "hot-reload-token-0123456789abcdef"
MAX_BODY = 2048
WORKER_TIMEOUT = 4
READ_TIMEOUT = 0.5

# One request of each kind whose answer depends on the model version.
REQUESTS = [
    ("GET", "/users/4/recommendations?n=3", None),
    ("GET", "/users/5/recommendations?n=3", None),
    ("POST", "/recommendations", {"ratings": [{"movie_id": 1, "rating": 5.0}, {"movie_id": 4, "rating": 1.0}], "n": 3}),
    ("GET", "/movies/1/similar?n=3", None),
    ("GET", "/health", None),
]


def receive_all(client):
    """Read from ``client`` until the server closes the connection."""
    received = b""
    while chunk := client.recv(4096):
        received += chunk
    return received


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def send(port, method, path, body=None, headers=None, timeout=10):
    """Send one request on a new connection; return (status, headers, parsed JSON body or text)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = None if body is None else json.dumps(body).encode()
        all_headers = {"Content-Type": "application/json"} if payload is not None else {}
        all_headers.update(headers or {})
        connection.request(method, path, body=payload, headers=all_headers)
        response = connection.getresponse()
        data = response.read()
        content = json.loads(data) if response.getheader("Content-Type", "").startswith("application/json") else data.decode()
        return response.status, response, content
    finally:
        connection.close()


class Server:
    """A ``true-recommend serve`` subprocess."""

    def __init__(self, model_dir, environment, arguments=()):
        self.port = free_port()
        self.model_dir = model_dir
        command = [
            sys.executable, "-c", "from api.cli import main; main()", "serve",
            "--model-dir", str(model_dir), "--port", str(self.port), "--workers", "2", *arguments,
        ]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **environment},
        )
        self.output = None

    def wait_until_ready(self):
        self.wait_for(lambda: self.version() is not None, "the server did not start")
        return self

    def version(self):
        try:
            status, _, body = send(self.port, "GET", "/health", timeout=2)
        except OSError:
            if self.process.poll() is not None:
                raise AssertionError(self.process.stdout.read().decode()) from None
            return None
        return body["model_version"] if status == 200 else None

    def wait_for(self, condition, message, seconds=30):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.1)
        raise AssertionError(message)

    def stop(self):
        if self.output is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.output = self.process.communicate(timeout=30)[0].decode()
        return self.output


@pytest.fixture(scope="module")
def version_template(tmp_path_factory):
    return two_version_template(tmp_path_factory.mktemp("versions"))


@pytest.fixture(scope="module")
def expected_answers(version_template):
    """The JSON answer of each request in ``REQUESTS`` from each version, computed in this process."""
    model_dir, first, second = version_template
    answers = {}
    for version in (first, second):
        client = create_app({"MODEL": HybridRecommender.load(model_dir / VERSIONS_DIR / version)}).test_client()
        answers[version] = {(method, path): client.open(path, method=method, json=body).get_json() for method, path, body in REQUESTS}
    return answers


@pytest.fixture(scope="module")
def metrics_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("metrics")
    (directory / "counter_1.db").write_bytes(b"left over from an earlier run")
    return directory


@pytest.fixture(scope="module")
def servers(version_template, tmp_path_factory, metrics_dir):
    """Start both servers of this module at once, which halves the wait for their start."""
    template, first, second = version_template

    # The watching server checks CURRENT every 0.2 s. Without
    # PROMETHEUS_MULTIPROC_DIR it makes its own metrics directory under
    # TMPDIR, and removes it at exit.
    directory = tmp_path_factory.mktemp("watched")
    temporary_dir = directory / "tmp"
    temporary_dir.mkdir()
    watching = Server(
        copy_model_dir(template, directory / "model"),
        {"TRUE_RECOMMEND_RELOAD_INTERVAL": "0.2", "PROMETHEUS_MULTIPROC_DIR": "", "TMPDIR": str(temporary_dir)},
    )
    watching.temporary_dir = temporary_dir

    # The configured server has its periodic check off, a token and a small
    # body limit, all from a configuration file, and short timeouts.
    directory = tmp_path_factory.mktemp("configured")
    config = directory / "settings.toml"
    config.write_text(f'api_token = "{TOKEN}"\nreload_interval = 0\nmax_content_length = {MAX_BODY}\n')
    configured = Server(
        copy_model_dir(template, directory / "model"),
        {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
        ["--config-file", str(config), "--timeout", str(WORKER_TIMEOUT), "--read-timeout", str(READ_TIMEOUT)],
    )

    try:
        yield watching.wait_until_ready(), configured.wait_until_ready()
    finally:
        watching.stop()
        configured.stop()


@pytest.fixture(scope="module")
def watching_server(servers):
    return servers[0]


@pytest.fixture(scope="module")
def configured_server(servers):
    return servers[1]


def failed_reloads(server):
    text = send(server.port, "GET", "/metrics")[2]
    prefix = 'true_recommend_model_reloads_total{result="failed"} '
    lines = [line for line in text.splitlines() if line.startswith(prefix)]
    return float(lines[0][len(prefix):]) if lines else 0.0


def other_version(server, version_template):
    _, first, second = version_template
    return second if server.version() == first else first


# Hot reload -------------------------------------------------------------------------


def test_responses_stay_whole_while_a_version_is_published(watching_server, version_template, expected_answers):
    _, first, second = version_template
    assert watching_server.version() == first
    assert expected_answers[first] != expected_answers[second]

    results = []
    failures = []
    stop = threading.Event()

    def client_loop():
        while not stop.is_set():
            for method, path, body in REQUESTS:
                try:
                    status, response, content = send(watching_server.port, method, path, body)
                except OSError as error:
                    failures.append(f"{method} {path}: {error!r}")
                    continue
                results.append((time.monotonic(), method, path, status, response.getheader("X-Model-Version"), content))

    threads = [threading.Thread(target=client_loop) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        published_at = time.monotonic()
        publish_version(watching_server.model_dir, second)
        watching_server.wait_for(
            lambda: any(result[4] == second and result[0] > published_at + 1.0 for result in results),
            "the server did not switch to the published version",
        )
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    assert failures == []
    versions = []
    for _, method, path, status, header, content in results:
        assert status == 200, (method, path, content)
        assert header == content["model_version"], (method, path)
        assert content == expected_answers[header][(method, path)], (method, path, header)
        versions.append(header)
    assert set(versions) == {first, second}
    # Once the old workers have finished their last request, only new ones answer.
    assert versions[-len(REQUESTS) * 4:] == [second] * (len(REQUESTS) * 4)


def test_watch_skips_a_broken_version_and_keeps_serving(watching_server, version_template):
    served = watching_server.version()
    broken = "20000101T000000Z-dead"
    (watching_server.model_dir / VERSIONS_DIR / broken).mkdir()
    (watching_server.model_dir / VERSIONS_DIR / broken / "manifest.json").write_text("{")

    publish_version(watching_server.model_dir, broken)

    # The master counts the failed attempt, and /metrics shows it.
    watching_server.wait_for(lambda: failed_reloads(watching_server) == 1, "the master did not try the broken version")
    time.sleep(0.5)
    assert failed_reloads(watching_server) == 1
    assert watching_server.version() == served
    status, _, _ = send(watching_server.port, "GET", "/users/4/recommendations?n=3")
    assert status == 200
    publish_version(watching_server.model_dir, served)


def test_sighup_reloads_the_published_version(configured_server, version_template):
    target = other_version(configured_server, version_template)
    served = configured_server.version()
    publish_version(configured_server.model_dir, target)
    time.sleep(0.5)
    assert configured_server.version() == served

    os.kill(configured_server.process.pid, signal.SIGHUP)

    configured_server.wait_for(lambda: configured_server.version() == target, "SIGHUP did not reload the model", seconds=15)


def test_admin_reload_hands_over_to_the_master(configured_server, version_template):
    target = other_version(configured_server, version_template)
    served = configured_server.version()
    publish_version(configured_server.model_dir, target)

    status, _, body = send(configured_server.port, "POST", "/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})

    assert status == 202
    assert body == {"status": "requested", "previous_version": served, "model_version": target}
    configured_server.wait_for(lambda: configured_server.version() == target, "the master did not reload", seconds=15)


def test_admin_reload_without_the_token_is_401(configured_server):
    status, response, body = send(configured_server.port, "POST", "/admin/reload", headers={"Authorization": "Bearer wrong"})

    assert status == 401
    assert response.getheader("WWW-Authenticate") == 'Bearer realm="true-recommend"'
    assert body["error"]["code"] == "unauthorized"


# Limits over the wire ------------------------------------------------------------------


def test_body_over_the_limit_gets_413(configured_server):
    ratings = [{"movie_id": 1, "rating": 4.0}] * 100
    assert len(json.dumps({"ratings": ratings})) > MAX_BODY

    status, _, body = send(configured_server.port, "POST", "/recommendations", {"ratings": ratings})

    assert status == 413
    assert body["error"]["code"] == "payload_too_large"


def test_chunked_body_over_the_limit_gets_413(configured_server):
    pieces = [b'{"ratings": ['] + [b'{"movie_id": 1, "rating": 4.0},'] * 100 + [b'{"movie_id": 2, "rating": 3.0}]}']
    body = b"".join(pieces)
    # The whole request goes out in one write. Regression: sent as 100 small
    # chunks, the server could send its 413 and close the connection before the
    # client had sent them all, and the test failed with a broken pipe.
    request = (
        b"POST /recommendations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + f"{len(body):X}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", configured_server.port), timeout=10) as connection:
        connection.sendall(request)
        response = http.client.HTTPResponse(connection)
        response.begin()
        payload = json.loads(response.read())

    assert len(body) > MAX_BODY
    assert response.status == 413
    assert payload["error"]["code"] == "payload_too_large"


def test_oversized_header_is_rejected_by_gunicorn(configured_server):
    status, _, _ = send(configured_server.port, "GET", "/health", headers={"X-Padding": "x" * 10000})

    assert status == 431


def test_metrics_add_up_every_worker(configured_server, metrics_dir):
    def count(text):
        prefix = 'true_recommend_http_requests_total{method="GET",route="/movies/<movie_id>/similar",status="200"} '
        lines = [line for line in text.splitlines() if line.startswith(prefix)]
        return float(lines[0][len(prefix):]) if lines else 0.0

    before = count(send(configured_server.port, "GET", "/metrics")[2])
    for _ in range(30):
        assert send(configured_server.port, "GET", "/movies/1/similar?n=2")[0] == 200
    status, response, text = send(configured_server.port, "GET", "/metrics")

    assert status == 200
    assert response.getheader("Content-Type").startswith("text/plain")
    assert count(text) - before == 30
    assert "true_recommend_model_info{version=" in text
    assert not (metrics_dir / "counter_1.db").exists()
    assert len(list(metrics_dir.glob("histogram_*.db"))) >= 2


def test_silent_client_gets_408_after_the_read_timeout(configured_server):
    with socket.create_connection(("127.0.0.1", configured_server.port)) as client:
        client.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        client.settimeout(READ_TIMEOUT + 10)
        started = time.monotonic()
        received = receive_all(client)
        waited = time.monotonic() - started

    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert json.loads(body) == {
        "error": {"status": 408, "code": "request_timeout", "message": "the request head did not arrive within 0.5 seconds"}
    }
    assert READ_TIMEOUT - 0.1 <= waited <= READ_TIMEOUT + 5
    assert send(configured_server.port, "GET", "/health")[0] == 200


def test_stalled_body_gets_400(configured_server):
    with socket.create_connection(("127.0.0.1", configured_server.port)) as client:
        client.sendall(b"POST /recommendations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"ratings\"")
        client.settimeout(READ_TIMEOUT + 10)
        received = receive_all(client)

    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 BAD REQUEST\r\n")
    assert json.loads(body)["error"]["status"] == 400


def test_server_removes_its_metrics_directory_at_exit(watching_server):
    # Runs last in this module: it stops the watching server.
    created = list(watching_server.temporary_dir.glob("true-recommend-metrics-*"))
    assert len(created) == 1

    output = watching_server.stop()

    assert not created[0].exists()
    assert "Shutting down: Master" in output
