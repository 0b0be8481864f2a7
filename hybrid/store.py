"""The ratings store: every rating, deletion and movie that arrives after training, in a database.

The store is an append-only log. Each posted rating and each deletion is one
row of ``rating_events`` with an increasing sequence number ``seq``. Nothing
is updated or removed, so every rating ever accepted is kept. Movies added
through the API are rows of ``movies``. A model records the last ``seq`` it
was trained on (its revision), and a server merges only the rows after it
(see ``hybrid.live``).

Two implementations share one interface, ``RatingStore``, and are chosen by
URL with ``open_store``:

- ``sqlite:///path/to/file.sqlite3`` (or a plain path): the embedded default.
  The file uses write-ahead logging (readers never block the writer) and
  ``synchronous=FULL``, so a committed transaction is on disk before the call
  returns: with NORMAL, a power cut could lose the last commits, and an
  acknowledged rating must never be lost. Writers wait up to
  ``busy_timeout`` seconds for each other instead of failing.
- ``postgresql://user:password@host:port/database``: needs the ``postgres``
  extra (psycopg 3).

Every write is one transaction. Writers are serialized (SQLite's
``BEGIN IMMEDIATE``, a table lock in PostgreSQL), so sequence numbers become
visible in order: a reader that sees ``seq`` N has also seen every row
before N, which the revision logic relies on.
"""

import contextlib
import json
import logging
import os
import re
import sqlite3
import threading
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
DATABASE_FILE_NAME = "ratings.sqlite3"
DEFAULT_BUSY_TIMEOUT = 30.0


class StoreError(RuntimeError):
    """Raised when the ratings database cannot be opened or used."""


class DuplicateMovieError(ValueError):
    """Raised when a movie id is already in the store."""


@dataclass(frozen=True)
class RatingEvents:
    """Rows of the rating log, in ``seq`` order; ``ratings`` is NaN where the row is a deletion.

    ``timestamps`` are the rating times in Unix seconds: the client's, or the
    server's clock when the client sent none.
    """

    seq: np.ndarray
    user_ids: np.ndarray
    movie_ids: np.ndarray
    ratings: np.ndarray
    timestamps: np.ndarray

    @classmethod
    def from_rows(cls, rows):
        """Build from ``(seq, user_id, movie_id, rating or None, timestamp)`` tuples."""
        if not rows:
            return cls.empty()
        seq, user_ids, movie_ids, ratings, timestamps = zip(*rows)
        return cls(
            seq=np.array(seq, dtype=np.int64),
            user_ids=np.array(user_ids, dtype=np.int64),
            movie_ids=np.array(movie_ids, dtype=np.int64),
            ratings=np.array([np.nan if value is None else value for value in ratings], dtype=np.float64),
            timestamps=np.array(timestamps, dtype=np.int64),
        )

    @classmethod
    def empty(cls):
        integers = np.zeros(0, dtype=np.int64)
        return cls(integers, integers, integers, np.zeros(0, dtype=np.float64), integers)

    def __len__(self):
        return self.seq.size

    @property
    def deletions(self):
        """Boolean mask of the rows that delete a rating."""
        return np.isnan(self.ratings)


@dataclass(frozen=True)
class StoredMovie:
    """A movie added through the store; ``year`` is None when unknown."""

    seq: int
    movie_id: int
    title: str
    genres: tuple
    year: int | None


@dataclass(frozen=True)
class StoreSnapshot:
    """Everything in the store at one moment, read in one transaction.

    ``rating_revision`` is the last rating ``seq`` included (0 when none) and
    ``movie_revision`` the last movie ``seq``.
    """

    store_id: str
    rating_revision: int
    movie_revision: int
    events: RatingEvents
    movies: list


class RatingStore(ABC):
    """The storage interface the server and the retrain pipeline use.

    Implementations are safe to share between threads and survive ``fork``:
    each thread of each process opens its own connection on first use.
    """

    #: URL of the database, with any password replaced by ``***``.
    display_url = ""

    @property
    @abstractmethod
    def store_id(self):
        """Random id created with the database, so a model can tell which store its revision counts in."""

    @abstractmethod
    def add_ratings(self, user_id, movie_ids, ratings, timestamps):
        """Append ratings of one user in one transaction and return them as ``RatingEvents``.

        ``timestamps`` holds None where the client sent none; those rows get
        the server's clock, in whole seconds.
        """

    @abstractmethod
    def delete_rating(self, user_id, movie_id):
        """Append the deletion of ``user_id``'s rating of ``movie_id`` and return its ``RatingEvents`` row."""

    @abstractmethod
    def user_events(self, user_id, after=0):
        """Return the rating rows of ``user_id`` with ``seq`` above ``after``."""

    @abstractmethod
    def add_movie(self, movie_id, title, genres, year):
        """Store a new movie and return it as ``StoredMovie``; raise ``DuplicateMovieError`` when its id is taken."""

    @abstractmethod
    def movies(self, after=0):
        """Return the stored movies with ``seq`` above ``after``, in ``seq`` order."""

    @abstractmethod
    def movie_revision(self):
        """Return the last movie ``seq``, 0 when no movie was added."""

    @abstractmethod
    def count_events(self, after=0):
        """Return the number of rating rows (ratings and deletions) with ``seq`` above ``after``."""

    @abstractmethod
    def snapshot(self):
        """Return a ``StoreSnapshot`` of all rating rows and movies, read in one transaction."""

    @abstractmethod
    def close(self):
        """Close the connection of the calling thread."""


def _now_seconds():
    return int(time.time())


def _movie_from_row(row):
    seq, movie_id, title, genres, year = row
    return StoredMovie(int(seq), int(movie_id), title, tuple(json.loads(genres)), None if year is None else int(year))


class _SQLStore(RatingStore):
    """SQL shared by both databases; subclasses connect, open transactions and set the placeholder.

    Every error of the database driver leaves as ``StoreError``, so callers
    handle one exception type whichever database is configured.
    """

    placeholder = "?"
    _driver_errors = ()

    def __init__(self):
        self._local = threading.local()
        self._store_id = None

    # Connections, one per thread and process ---------------------------------

    @abstractmethod
    def _open(self):
        """Return a new connection with the schema in place."""

    @abstractmethod
    def _write_transaction(self, connection):
        """Return a context manager around one serialized write transaction."""

    @abstractmethod
    def _read_transaction(self, connection):
        """Return a context manager around one read transaction that reads a single snapshot."""

    def _connection(self):
        # A connection opened before fork belongs to the parent: a child that
        # used it would corrupt the parent's session, so it opens its own.
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            local.connection = self._open()
            local.pid = os.getpid()
        return local.connection

    def close(self):
        local = self._local
        if getattr(local, "pid", None) == os.getpid():
            local.connection.close()
        local.connection = None
        local.pid = None

    @contextlib.contextmanager
    def _translated(self, manager=None):
        try:
            if manager is None:
                yield
            else:
                with manager:
                    yield
        except self._driver_errors as error:
            raise StoreError(f"the ratings database {self.display_url} failed: {error}") from error

    def _sql(self, statement):
        return statement if self.placeholder == "?" else statement.replace("?", self.placeholder)

    def _fetch(self, connection, statement, parameters=()):
        with self._translated():
            cursor = connection.cursor()
            try:
                cursor.execute(self._sql(statement), parameters)
                return cursor.fetchall()
            finally:
                cursor.close()

    def _execute(self, connection, statement, parameters=()):
        with self._translated():
            cursor = connection.cursor()
            try:
                cursor.execute(self._sql(statement), parameters)
            finally:
                cursor.close()

    def _executemany(self, connection, statement, rows):
        with self._translated():
            cursor = connection.cursor()
            try:
                cursor.executemany(self._sql(statement), rows)
            finally:
                cursor.close()

    def _ensure_store_id(self, connection):
        rows = self._fetch(connection, "SELECT value FROM store_info WHERE key = 'schema_version'")
        if rows and int(rows[0][0]) != SCHEMA_VERSION:
            raise StoreError(
                f"{self.display_url} has ratings schema version {rows[0][0]}, but this program reads version {SCHEMA_VERSION}"
            )
        if not rows:
            self._execute(connection, "INSERT INTO store_info (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            self._execute(connection, "INSERT INTO store_info (key, value) VALUES ('store_id', ?)", (uuid.uuid4().hex,))

    # The interface -----------------------------------------------------------

    @property
    def store_id(self):
        if self._store_id is None:
            rows = self._fetch(self._connection(), "SELECT value FROM store_info WHERE key = 'store_id'")
            self._store_id = rows[0][0]
        return self._store_id

    def add_ratings(self, user_id, movie_ids, ratings, timestamps):
        if not len(movie_ids) == len(ratings) == len(timestamps):
            raise ValueError(
                f"movie_ids, ratings and timestamps must have the same length, got {len(movie_ids)}, {len(ratings)} and {len(timestamps)}"
            )
        now = time.time()
        clock = int(now)
        rows = [
            (int(user_id), int(movie_id), float(rating), clock if timestamp is None else int(timestamp), now)
            for movie_id, rating, timestamp in zip(movie_ids, ratings, timestamps)
        ]
        return self._append_events(user_id, rows)

    def delete_rating(self, user_id, movie_id):
        now = time.time()
        return self._append_events(user_id, [(int(user_id), int(movie_id), None, int(now), now)])

    def _append_events(self, user_id, rows):
        connection = self._connection()
        with self._translated(self._write_transaction(connection)):
            last = self._fetch(connection, "SELECT COALESCE(MAX(seq), 0) FROM rating_events")[0][0]
            self._executemany(
                connection,
                "INSERT INTO rating_events (user_id, movie_id, rating, rated_at, recorded_at) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            stored = self._fetch(
                connection,
                "SELECT seq, user_id, movie_id, rating, rated_at FROM rating_events WHERE seq > ? ORDER BY seq",
                (last,),
            )
        logger.debug("stored %d rating rows of user %d, last seq %d", len(stored), user_id, stored[-1][0])
        return RatingEvents.from_rows(stored)

    def user_events(self, user_id, after=0):
        rows = self._fetch(
            self._connection(),
            "SELECT seq, user_id, movie_id, rating, rated_at FROM rating_events WHERE user_id = ? AND seq > ? ORDER BY seq",
            (int(user_id), int(after)),
        )
        return RatingEvents.from_rows(rows)

    def add_movie(self, movie_id, title, genres, year):
        connection = self._connection()
        with self._translated(self._write_transaction(connection)):
            taken = self._fetch(connection, "SELECT seq FROM movies WHERE movie_id = ?", (int(movie_id),))
            if taken:
                raise DuplicateMovieError(f"movie_id {movie_id} is already in the ratings store")
            self._execute(
                connection,
                "INSERT INTO movies (movie_id, title, genres, year, recorded_at) VALUES (?, ?, ?, ?, ?)",
                (int(movie_id), title, json.dumps(list(genres), ensure_ascii=False), year, time.time()),
            )
            row = self._fetch(connection, "SELECT seq, movie_id, title, genres, year FROM movies WHERE movie_id = ?", (int(movie_id),))[0]
        logger.info("stored movie %d %r", movie_id, title)
        return _movie_from_row(row)

    def movies(self, after=0):
        rows = self._fetch(
            self._connection(),
            "SELECT seq, movie_id, title, genres, year FROM movies WHERE seq > ? ORDER BY seq",
            (int(after),),
        )
        return [_movie_from_row(row) for row in rows]

    def movie_revision(self):
        return int(self._fetch(self._connection(), "SELECT COALESCE(MAX(seq), 0) FROM movies")[0][0])

    def count_events(self, after=0):
        return int(self._fetch(self._connection(), "SELECT COUNT(*) FROM rating_events WHERE seq > ?", (int(after),))[0][0])

    def snapshot(self):
        connection = self._connection()
        with self._translated(self._read_transaction(connection)):
            events = self._fetch(connection, "SELECT seq, user_id, movie_id, rating, rated_at FROM rating_events ORDER BY seq")
            movies = self._fetch(connection, "SELECT seq, movie_id, title, genres, year FROM movies ORDER BY seq")
        events = RatingEvents.from_rows(events)
        movies = [_movie_from_row(row) for row in movies]
        return StoreSnapshot(
            store_id=self.store_id,
            rating_revision=int(events.seq[-1]) if len(events) else 0,
            movie_revision=movies[-1].seq if movies else 0,
            events=events,
            movies=movies,
        )


class _SQLiteTransaction:
    def __init__(self, connection, begin):
        self.connection = connection
        self.begin = begin

    def __enter__(self):
        self.connection.execute(self.begin)

    def __exit__(self, error_type, error, traceback):
        if error_type is None:
            self.connection.execute("COMMIT")
        else:
            self.connection.execute("ROLLBACK")
        return False


class SQLiteStore(_SQLStore):
    """The store in one SQLite file, with write-ahead logging and a durable commit per write.

    Parameters
    ----------
    path : path
        Database file; it and its directory are created when missing.
    busy_timeout : float
        Seconds a writer waits for another process's write to finish.
    """

    _SCHEMA = (
        """CREATE TABLE IF NOT EXISTS store_info (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS rating_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id INTEGER NOT NULL,
            movie_id INTEGER NOT NULL,
            rating REAL,
            rated_at INTEGER NOT NULL,
            recorded_at REAL NOT NULL
        )""",
        """CREATE INDEX IF NOT EXISTS rating_events_by_user ON rating_events (user_id, seq)""",
        """CREATE TABLE IF NOT EXISTS movies (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            movie_id INTEGER NOT NULL UNIQUE,
            title TEXT NOT NULL,
            genres TEXT NOT NULL,
            year INTEGER,
            recorded_at REAL NOT NULL
        )""",
    )

    _driver_errors = (sqlite3.Error,)

    def __init__(self, path, *, busy_timeout=DEFAULT_BUSY_TIMEOUT):
        super().__init__()
        self.path = Path(path).absolute()
        self.busy_timeout = busy_timeout
        self.display_url = f"sqlite:///{self.path}"

    def _open(self):
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None leaves transactions to the explicit BEGIN
            # statements below instead of the sqlite3 module's implicit ones.
            connection = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False)
            mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StoreError(f"{self.path} cannot use write-ahead logging (journal mode stays {mode!r})")
            connection.execute("PRAGMA synchronous=FULL")
            with _SQLiteTransaction(connection, "BEGIN IMMEDIATE"):
                for statement in self._SCHEMA:
                    connection.execute(statement)
                self._ensure_store_id(connection)
        except (sqlite3.Error, OSError) as error:
            raise StoreError(f"cannot open the ratings database {self.path}: {error}") from None
        return connection

    def _write_transaction(self, connection):
        # IMMEDIATE takes the write lock at BEGIN, so two writers queue on the
        # busy timeout instead of one failing when it upgrades a read lock.
        return _SQLiteTransaction(connection, "BEGIN IMMEDIATE")

    def _read_transaction(self, connection):
        return _SQLiteTransaction(connection, "BEGIN")


class PostgresStore(_SQLStore):
    """The store in a PostgreSQL database, through psycopg 3 (``pip install 'true-recommend[postgres]'``)."""

    placeholder = "%s"

    _SCHEMA = (
        """CREATE TABLE IF NOT EXISTS store_info (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS rating_events (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            user_id BIGINT NOT NULL,
            movie_id BIGINT NOT NULL,
            rating DOUBLE PRECISION,
            rated_at BIGINT NOT NULL,
            recorded_at DOUBLE PRECISION NOT NULL
        )""",
        """CREATE INDEX IF NOT EXISTS rating_events_by_user ON rating_events (user_id, seq)""",
        """CREATE TABLE IF NOT EXISTS movies (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            movie_id BIGINT NOT NULL UNIQUE,
            title TEXT NOT NULL,
            genres TEXT NOT NULL,
            year INTEGER,
            recorded_at DOUBLE PRECISION NOT NULL
        )""",
    )
    # Any fixed number: it names the advisory lock that serializes schema creation.
    _SCHEMA_LOCK = 7_318_004_211

    def __init__(self, url):
        super().__init__()
        try:
            import psycopg
        except ImportError:
            raise StoreError(
                "a postgresql:// database needs psycopg: pip install 'true-recommend[postgres]'"
            ) from None
        self._psycopg = psycopg
        self._driver_errors = (psycopg.Error,)
        self.url = url
        self.display_url = _redact(url)

    def _open(self):
        psycopg = self._psycopg
        try:
            connection = psycopg.connect(self.url, autocommit=True)
            with connection.transaction():
                # Two processes creating the tables at once would collide on
                # the catalogue, so creation waits for this lock.
                self._execute(connection, "SELECT pg_advisory_xact_lock(?)", (self._SCHEMA_LOCK,))
                for statement in self._SCHEMA:
                    self._execute(connection, statement)
                self._ensure_store_id(connection)
        except psycopg.Error as error:
            raise StoreError(f"cannot open the ratings database {self.display_url}: {error}") from None
        return connection

    def _write_transaction(self, connection):
        return _PostgresWrite(connection, self)

    def _read_transaction(self, connection):
        return _PostgresRead(connection, self)


class _PostgresWrite:
    def __init__(self, connection, store):
        self.connection = connection
        self.store = store

    def __enter__(self):
        self.transaction = self.connection.transaction()
        self.transaction.__enter__()
        # Identity values are handed out before commit, so two open writers
        # could commit seq 11 before seq 10 and a reader would skip 10 for
        # good. The lock orders the writers; readers are not blocked.
        self.store._execute(self.connection, "LOCK TABLE rating_events, movies IN SHARE ROW EXCLUSIVE MODE")

    def __exit__(self, error_type, error, traceback):
        return self.transaction.__exit__(error_type, error, traceback)


class _PostgresRead:
    def __init__(self, connection, store):
        self.connection = connection
        self.store = store

    def __enter__(self):
        self.transaction = self.connection.transaction()
        self.transaction.__enter__()
        self.store._execute(self.connection, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")

    def __exit__(self, error_type, error, traceback):
        return self.transaction.__exit__(error_type, error, traceback)


def _redact(url):
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def default_database_url(model_dir):
    """Return the URL of the SQLite file in ``model_dir``, which ``serve`` and ``retrain`` share by default."""
    return f"sqlite:///{Path(model_dir).absolute() / DATABASE_FILE_NAME}"


_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*)://", re.IGNORECASE)


def open_store(url):
    """Return the ``RatingStore`` for a database URL.

    ``sqlite:///relative/path``, ``sqlite:////absolute/path`` and a plain file
    path open SQLite; ``postgresql://...`` (or ``postgres://``) opens
    PostgreSQL. Nothing is connected until first use.
    """
    if not isinstance(url, str) or not url.strip():
        raise StoreError(f"invalid database URL {url!r}: expected sqlite:///PATH or postgresql://USER@HOST/DATABASE")
    match = _SCHEME.match(url)
    if match is None:
        return SQLiteStore(url)

    scheme = match.group(1).lower()
    if scheme == "sqlite":
        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else ""
        if not path:
            raise StoreError(f"invalid database URL {url!r}: a SQLite URL is sqlite:///PATH, e.g. sqlite:///model/ratings.sqlite3")
        return SQLiteStore(path)
    if scheme in ("postgresql", "postgres"):
        return PostgresStore(url)
    raise StoreError(f"unsupported database URL scheme {scheme!r} in {_redact(url)}: expected sqlite or postgresql")
