"""A real gunicorn server with several worker processes sharing one SQLite ratings store.

Each worker has its own copy of the model, so a write handled by one
worker must show in the responses of every other worker.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from hybrid.store import SQLiteStore
from hybrid.training import data_source, load_source, train_and_save
from tests.conftest import TINY_MOVIES, TINY_RATINGS

TOKEN = "s3cret"
REQUESTS = 12


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _call(url, method="GET", body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("served")
    (directory / "ratings.csv").write_text(TINY_RATINGS, encoding="utf-8")
    (directory / "movies.csv").write_text(TINY_MOVIES, encoding="utf-8")
    source = data_source(directory / "ratings.csv", directory / "movies.csv")
    model_dir = directory / "model"
    train_and_save(load_source(source), model_dir, show_progress=False, source=source)

    port = _free_port()
    command = [sys.executable, "-c", "from api.cli import main; main()", "serve", "--model-dir", str(model_dir), "--port", str(port), "--workers", "3"]
    environment = {**os.environ, "TRUE_RECOMMEND_API_TOKEN": TOKEN}
    log = directory / "server.log"
    with open(log, "w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=environment, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if process.poll() is not None:
                pytest.fail(f"the server exited: {log.read_text()}")
            try:
                if _call(f"{base}/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not answer within 30 s")
        yield base, model_dir
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_rating_shows_in_every_worker(server):
    base, model_dir = server

    status, stored = _call(f"{base}/users/60/ratings", "POST", {"ratings": [{"movie_id": 4, "rating": 5.0}, {"movie_id": 5, "rating": 4.5}]}, TOKEN)
    answers = [_call(f"{base}/users/60/recommendations?n=3")[1] for _ in range(REQUESTS)]

    assert status == 201
    assert stored["n_ratings"] == 2
    assert (model_dir / "ratings.sqlite3").is_file()
    assert all(answer["fallback"] is None and answer["n_ratings"] == 2 for answer in answers)
    recommended = [[item["movie_id"] for item in answer["items"]] for answer in answers]
    assert all(ids == recommended[0] for ids in recommended)
    assert recommended[0][0] == 6  # the third crime film, the other two being rated


def test_movie_known_to_every_worker(server):
    base, _ = server
    movie = {"movie_id": 8, "title": "Toy Story 3 (2010)", "genres": ["Animation", "Children", "Comedy"]}

    status, _ = _call(f"{base}/movies", "POST", movie, TOKEN)
    answers = [_call(f"{base}/movies/8/similar?n=2") for _ in range(REQUESTS)]

    assert status == 201
    assert all(code == 200 for code, _ in answers)
    assert all(body["items"][0]["genres"] == ["Animation", "Children", "Comedy"] for _, body in answers)


def test_write_without_token_is_rejected_by_the_server(server):
    base, _ = server

    status, body = _call(f"{base}/users/60/ratings", "POST", {"ratings": [{"movie_id": 4, "rating": 5.0}]})

    assert status == 401
    assert body["error"]["code"] == "unauthorized"


def test_concurrent_posts_to_all_workers_lose_nothing(server):
    base, model_dir = server
    users = range(70, 76)

    def post_all(user):
        return [
            _call(f"{base}/users/{user}/ratings", "POST", {"ratings": [{"movie_id": movie, "rating": 3.0, "timestamp": movie}]}, TOKEN)[0]
            for movie in range(1, 8)
        ]

    with ThreadPoolExecutor(max_workers=len(users)) as pool:
        statuses = [status for result in pool.map(post_all, users) for status in result]

    assert statuses == [201] * len(users) * 7
    events = SQLiteStore(model_dir / "ratings.sqlite3").snapshot().events
    for user in users:
        assert sorted(events.movie_ids[events.user_ids == user].tolist()) == list(range(1, 8))
        history = _call(f"{base}/users/{user}/ratings")[1]["ratings"]
        assert [entry["movie_id"] for entry in history] == list(range(7, 0, -1))
