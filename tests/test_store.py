"""The ratings store: the merge rules, SQLite durability settings, concurrent writers and crashes.

The contract tests run against SQLite always and against PostgreSQL when
``TRUE_RECOMMEND_TEST_POSTGRES_URL`` names a database they may fill (they
create their own tables in it, so use an empty database).
"""

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from hybrid.live import current_ratings
from hybrid.store import DuplicateMovieError, PostgresStore, SQLiteStore, StoreError, open_store

POSTGRES_URL = os.environ.get("TRUE_RECOMMEND_TEST_POSTGRES_URL")
NAN = float("nan")


# The merge rules ------------------------------------------------------------------------


def test_latest_timestamp_wins_ties_later_row():
    # user, movie, rating, timestamp, seq
    rows = [
        (1, 10, 4.0, 100, -1),
        (1, 10, 2.0, 50, 1),  # older than the file's rating: loses
        (1, 11, 3.0, 100, -1),
        (1, 11, 5.0, 100, 2),  # same timestamp, later row: wins
        (2, 10, 1.0, 10, 3),
        (2, 10, 1.5, 20, 4),
    ]
    users, movies, ratings, timestamps, seq = map(np.array, zip(*rows))

    kept = current_ratings(users, movies, ratings, timestamps, seq)

    assert kept.tolist() == [0, 3, 5]


def test_deletion_removes_earlier_rows_only():
    rows = [
        (1, 10, 4.0, 100, -1),
        (1, 10, NAN, 90, 5),  # deletes the file's rating despite an older timestamp
        (1, 11, 3.0, 100, -1),
        (1, 11, NAN, 200, 6),
        (1, 11, 2.5, 10, 7),  # posted after the deletion: counts again
        (1, 12, 4.0, 300, 8),
        (1, 12, 4.5, 200, 9),  # older than seq 8: loses
        (1, 12, NAN, 400, 10),  # and then both are deleted
    ]
    users, movies, ratings, timestamps, seq = map(np.array, zip(*rows))

    kept = current_ratings(users, movies, ratings, timestamps, seq)

    assert kept.tolist() == [4]


def test_no_rows_give_no_ratings():
    empty = np.zeros(0)

    assert current_ratings(empty, empty, empty, empty, empty).tolist() == []


# The store contract, on every backend ------------------------------------------------------


def empty_postgres_url():
    """Return the test PostgreSQL URL after emptying its store tables, or skip the test without one."""
    if not POSTGRES_URL:
        pytest.skip("set TRUE_RECOMMEND_TEST_POSTGRES_URL to an empty PostgreSQL database to run this test")
    store = PostgresStore(POSTGRES_URL)
    connection = store._connection()
    with connection.transaction():
        connection.execute("TRUNCATE rating_events, movies RESTART IDENTITY")
    store.close()
    return POSTGRES_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ratings.sqlite3'}"
    return empty_postgres_url()


@pytest.fixture()
def store(database_url):
    store = open_store(database_url)
    yield store
    store.close()


def test_ratings_come_back_with_their_sequence(store):
    first = store.add_ratings(7, [1, 2], [4.5, 3.0], [100, None])
    second = store.add_ratings(8, [1], [2.0], [300])

    assert first.seq.tolist() == [1, 2]
    assert first.timestamps[0] == 100
    assert first.timestamps[1] >= int(time.time()) - 5
    assert second.seq.tolist() == [3]
    events = store.user_events(7)
    assert events.movie_ids.tolist() == [1, 2]
    assert events.ratings.tolist() == [4.5, 3.0]
    assert store.user_events(7, after=1).seq.tolist() == [2]
    assert len(store.user_events(9)) == 0


def test_deletion_is_a_row_with_no_rating(store):
    store.add_ratings(7, [1], [4.5], [100])

    deletion = store.delete_rating(7, 1)

    assert deletion.deletions.tolist() == [True]
    assert store.count_events() == 2
    assert store.count_events(after=1) == 1


def test_movies_are_stored_once(store):
    store.add_movie(50, "Harbor Lights (1951)", ("Crime", "Film-Noir"), 1951)
    store.add_movie(51, "Untitled", (), None)

    with pytest.raises(DuplicateMovieError, match="movie_id 50 is already in the ratings store"):
        store.add_movie(50, "Other", (), None)
    movies = store.movies()
    assert [(movie.movie_id, movie.title, movie.genres, movie.year) for movie in movies] == [
        (50, "Harbor Lights (1951)", ("Crime", "Film-Noir"), 1951),
        (51, "Untitled", (), None),
    ]
    assert store.movie_revision() == 2
    assert [movie.movie_id for movie in store.movies(after=1)] == [51]


def test_snapshot_holds_everything_with_its_revisions(store):
    store.add_ratings(7, [1, 2], [4.5, 3.0], [100, 200])
    store.delete_rating(7, 2)
    store.add_movie(50, "Harbor Lights (1951)", ("Crime",), 1951)

    snapshot = store.snapshot()

    assert snapshot.rating_revision == 3
    assert snapshot.movie_revision == 1
    assert snapshot.events.user_ids.tolist() == [7, 7, 7]
    assert snapshot.events.deletions.tolist() == [False, False, True]
    assert snapshot.store_id == store.store_id


def test_largest_ids_are_kept_exactly(store):
    largest = 9223372036854775807

    store.add_ratings(largest, [largest], [0.5], [largest])

    events = store.user_events(largest)
    assert events.user_ids.tolist() == [largest]
    assert events.movie_ids.tolist() == [largest]
    assert events.timestamps.tolist() == [largest]


# SQLite ----------------------------------------------------------------------------------------


def test_sqlite_uses_write_ahead_logging_and_full_sync(tmp_path):
    store = SQLiteStore(tmp_path / "ratings.sqlite3")

    connection = store._connection()

    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert (tmp_path / "ratings.sqlite3-wal").exists()


def test_store_id_survives_reopening(tmp_path):
    first = SQLiteStore(tmp_path / "ratings.sqlite3").store_id

    again = SQLiteStore(tmp_path / "ratings.sqlite3").store_id
    other = SQLiteStore(tmp_path / "other.sqlite3").store_id

    assert first == again
    assert first != other


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///relative/ratings.sqlite3", "relative/ratings.sqlite3"),
        ("sqlite:////absolute/ratings.sqlite3", "/absolute/ratings.sqlite3"),
        ("plain/ratings.sqlite3", "plain/ratings.sqlite3"),
    ],
)
def test_sqlite_urls(url, expected):
    store = open_store(url)

    assert isinstance(store, SQLiteStore)
    assert str(store.path) == os.path.abspath(expected)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://user@host/db", "unsupported database URL scheme 'mysql' in mysql://user@host/db: expected sqlite or postgresql"),
        ("sqlite://ratings.db", "invalid database URL 'sqlite://ratings.db': a SQLite URL is sqlite:///PATH"),
        ("", "invalid database URL '': expected sqlite:///PATH or postgresql://USER@HOST/DATABASE"),
    ],
)
def test_bad_urls_are_rejected(url, message):
    with pytest.raises(StoreError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        open_store(url)


def test_unwritable_location_names_the_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")

    with pytest.raises(StoreError, match=f"cannot open the ratings database {blocker}/ratings.sqlite3: "):
        SQLiteStore(blocker / "ratings.sqlite3").store_id


# Several processes -----------------------------------------------------------------------------

WRITERS = 4
WRITES = 60


def _write_many(url, writer):
    store = open_store(url)
    for number in range(WRITES):
        # Two ratings per transaction, so a torn write would show as an odd count.
        store.add_ratings(writer, [number, number + 1000], [4.0, 2.5], [number, number])
    store.close()


def test_concurrent_writer_processes_lose_nothing(database_url):
    open_store(database_url).store_id
    # fork starts the writers at once, with the modules already imported, as
    # gunicorn starts its workers.
    context = multiprocessing.get_context("fork")

    processes = [context.Process(target=_write_many, args=(database_url, writer)) for writer in range(WRITERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)

    assert [process.exitcode for process in processes] == [0] * WRITERS
    snapshot = open_store(database_url).snapshot()
    assert snapshot.rating_revision == WRITERS * WRITES * 2
    assert snapshot.events.seq.tolist() == list(range(1, WRITERS * WRITES * 2 + 1))
    for writer in range(WRITERS):
        mine = snapshot.events.user_ids == writer
        assert sorted(snapshot.events.movie_ids[mine].tolist()) == sorted([*range(WRITES), *range(1000, 1000 + WRITES)])


def test_acknowledged_writes_survive_a_killed_process(tmp_path):
    path = tmp_path / "ratings.sqlite3"
    script = textwrap.dedent(
        f"""
        import sys
        from hybrid.store import SQLiteStore
        store = SQLiteStore({str(path)!r})
        number = 0
        while True:
            stored = store.add_ratings(1, [number], [3.0], [number])
            print(int(stored.seq[-1]), flush=True)
            number += 1
        """
    )
    writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    acknowledged = [int(writer.stdout.readline()) for _ in range(50)]

    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)

    stored = SQLiteStore(path).snapshot().events.seq.tolist()
    assert stored[: len(acknowledged)] == acknowledged
    assert stored == list(range(1, len(stored) + 1))
