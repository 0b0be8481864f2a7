"""Load and validate MovieLens data sets.

Two formats are supported: the CSV files of the current MovieLens releases,
such as the bundled ml-latest-small, and the files of the older ml-100k.
Either way the result is a `Dataset` of pandas DataFrames with the same
columns and types.

Validation
----------
Every field is read as text and checked with vectorized pandas and numpy
operations; no per-row Python loop is involved. A row that fails a check is
rejected, not repaired, and is counted in the file's `LoadReport` under the
first reason it fails, with the line numbers of the first few such rows.
The report of a file with rejected or replaced rows is logged once at
WARNING level, and any other report at INFO level. Whole-file problems
raise `DataError`.

- Ids (``user_id``, ``movie_id``) and timestamps must be canonical
  non-negative integers up to 9223372036854775807, parsed without going
  through float: ``801.0``, ``-3``, ``007`` and ``1e3`` are rejected.
- A rating must be a number on the data set's `RatingScale`: within its
  range and a multiple of its step.
- A rating or tag must name a movie that the movies file lists.
- A movie id listed twice keeps its first row; the later rows are
  rejected as ``"duplicate movie_id"``.

Duplicate ratings
-----------------
When a user rated the same movie more than once, the rating with the
latest timestamp is kept. When those timestamps are equal, the row that
comes later in the file is kept. The rows dropped this way are counted in
``LoadReport.duplicates_replaced``. Tags are not deduplicated, because a
user may give one movie several tags.

Memory
------
Ratings and tags are read in chunks of `CHUNK_ROWS` rows, and each chunk's
text is converted to int64 and float64 arrays before the next is read.
"""

from __future__ import annotations

import csv
import importlib.resources
import logging
import os
import pathlib
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hybrid.reading import DelimitedFile
from hybrid.validation import (
    ChunkValidator,
    DataError,
    LoadReport,
    RatingScale,
    RejectionLog,
    keep_latest_ratings,
)

__all__ = [
    "CHUNK_ROWS",
    "DataError",
    "Dataset",
    "LoadReport",
    "ML100K_RATING_SCALE",
    "RatingScale",
    "bundled_data_dir",
    "load_bundled",
    "load_ml100k",
    "load_movielens_catalogue",
    "load_movielens_csv",
]

logger = logging.getLogger(__name__)

# Rows per chunk when reading ratings and tags, which bounds the memory
# spent on text. A chunk of this many ratings.csv rows takes about 62 MB by
# pandas' memory_usage(deep=True) (33 MB traced by tracemalloc, because
# equal strings share objects), measured with pandas 3.1.
CHUNK_ROWS = 250_000

# ml-100k ratings are whole stars from 1 to 5.
ML100K_RATING_SCALE = RatingScale(minimum=1.0, maximum=5.0, step=1.0)

# Genre text that the MovieLens CSV files write for a movie without genres.
_NO_GENRES = "(no genres listed)"

# Name of the ml-100k genre flag that marks a movie whose genres are not known.
_ML100K_UNKNOWN_GENRE = "unknown"

# Year of a title that ends in "(1995)", also when trailing spaces follow.
_TITLE_YEAR_PATTERN = r"\(([0-9]{4})\)\s*$"

_RATINGS_HEADER = {"user_id": "userId", "movie_id": "movieId", "rating": "rating", "timestamp": "timestamp"}
_MOVIES_HEADER = {"movie_id": "movieId", "title": "title", "genres": "genres"}
_TAGS_HEADER = {"user_id": "userId", "movie_id": "movieId", "tag": "tag", "timestamp": "timestamp"}


@dataclass
class Dataset:
    """A validated MovieLens data set.

    Attributes
    ----------
    ratings : pandas.DataFrame
        Columns ``user_id`` (int64), ``movie_id`` (int64), ``rating``
        (float64) and ``timestamp`` (int64, seconds since the Unix epoch),
        one row per (user, movie) pair, in file order.
    movies : pandas.DataFrame
        Columns ``movie_id`` (int64), ``title`` (str, exactly as in the
        file), ``genres`` (object: a tuple of str, ``()`` when the movie has
        none) and ``year`` (Int64, taken from a title ending in "(1995)",
        ``<NA>`` otherwise), in file order.
    tags : pandas.DataFrame or None
        Columns ``user_id`` (int64), ``movie_id`` (int64), ``tag`` (str,
        exactly as in the file) and ``timestamp`` (int64); None when no
        tags file was loaded.
    rating_scale : RatingScale
        Scale the ratings were checked against.
    reports : list of LoadReport
        One report per file, in the order read: movies, ratings, then tags.
    name : str
        Name of the data set, for example ``"ml-latest-small"``.
    """

    ratings: pd.DataFrame = field(repr=False)
    movies: pd.DataFrame = field(repr=False)
    tags: pd.DataFrame | None = field(repr=False)
    rating_scale: RatingScale
    reports: list[LoadReport] = field(repr=False)
    name: str


def bundled_data_dir() -> pathlib.Path:
    """Return the directory of the bundled ml-latest-small data set.

    The directory is found with ``importlib.resources``, so it also works
    when the package is installed.

    Raises
    ------
    DataError
        If the package is imported from a zip archive, where the files
        have no directory on disk.
    """
    directory = importlib.resources.files("hybrid").joinpath("datasets", "ml-latest-small")
    if not isinstance(directory, pathlib.Path):
        raise DataError(
            f"the bundled data set is inside an archive ({directory}); install the package "
            "as a directory, for example with pip install, to load it"
        )
    return directory


def load_bundled(*, with_tags: bool = True) -> Dataset:
    """Load the bundled ml-latest-small data set.

    Parameters
    ----------
    with_tags : bool
        Whether to load tags.csv as well.

    Returns
    -------
    Dataset
        100,836 ratings by 610 users, 9,742 movies and, with tags, 3,683 tags.
    """
    directory = bundled_data_dir()
    return load_movielens_csv(
        directory / "ratings.csv",
        directory / "movies.csv",
        directory / "tags.csv" if with_tags else None,
        name="ml-latest-small",
    )


def load_movielens_csv(
    ratings,
    movies,
    tags=None,
    *,
    rating_scale: RatingScale = RatingScale(),
    encoding: str = "utf-8",
    name: str | None = None,
) -> Dataset:
    """Load a data set in the CSV format of the current MovieLens releases.

    Parameters
    ----------
    ratings : str or os.PathLike
        ratings.csv with the header ``userId,movieId,rating,timestamp``.
    movies : str or os.PathLike
        movies.csv with the header ``movieId,title,genres``. Genres are
        separated by ``|``; ``(no genres listed)`` means none.
    tags : str or os.PathLike, optional
        tags.csv with the header ``userId,movieId,tag,timestamp``.
    rating_scale : RatingScale
        Valid ratings. The default is 0.5 to 5 stars in half steps.
    encoding : str
        Text encoding of all three files.
    name : str, optional
        Name of the data set. By default it is the name of the directory that
        contains ``ratings``.

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        If a file is missing, its header does not contain exactly the
        expected columns, it does not decode with ``encoding``, or no valid
        row is left in it.
    """
    movies_table = DelimitedFile(
        movies, columns=list(_MOVIES_HEADER), header_names=list(_MOVIES_HEADER.values()), encoding=encoding
    )
    movie_frame, movies_report = _read_movielens_movies(movies_table)
    known_movies = pd.Index(movie_frame["movie_id"])

    ratings_table = DelimitedFile(
        ratings, columns=list(_RATINGS_HEADER), header_names=list(_RATINGS_HEADER.values()), encoding=encoding
    )
    rating_frame, ratings_report = _read_ratings(ratings_table, rating_scale, known_movies)
    reports = [movies_report, ratings_report]

    tag_frame = None
    if tags is not None:
        tags_table = DelimitedFile(
            tags, columns=list(_TAGS_HEADER), header_names=list(_TAGS_HEADER.values()), encoding=encoding
        )
        tag_frame, tags_report = _read_tags(tags_table, known_movies)
        reports.append(tags_report)

    if name is None:
        name = pathlib.Path(os.path.abspath(ratings)).parent.name
    return Dataset(
        ratings=rating_frame,
        movies=movie_frame,
        tags=tag_frame,
        rating_scale=rating_scale,
        reports=reports,
        name=name,
    )


def load_movielens_catalogue(
    movies,
    tags=None,
    *,
    rating_scale: RatingScale = RatingScale(),
    encoding: str = "utf-8",
    name: str = "movielens",
) -> Dataset:
    """Load movies.csv, and tags.csv when given, for a training whose ratings are read elsewhere.

    The Spark trainer reads the ratings on the cluster and the catalogue
    here; both files are checked exactly as `load_movielens_csv` checks them.

    Returns
    -------
    Dataset
        With an empty ``ratings`` frame of the usual columns, and the reports
        of the movies and tags files.
    """
    movies_table = DelimitedFile(
        movies, columns=list(_MOVIES_HEADER), header_names=list(_MOVIES_HEADER.values()), encoding=encoding
    )
    movie_frame, movies_report = _read_movielens_movies(movies_table)
    reports = [movies_report]

    tag_frame = None
    if tags is not None:
        tags_table = DelimitedFile(
            tags, columns=list(_TAGS_HEADER), header_names=list(_TAGS_HEADER.values()), encoding=encoding
        )
        tag_frame, tags_report = _read_tags(tags_table, pd.Index(movie_frame["movie_id"]))
        reports.append(tags_report)

    empty_ratings = pd.DataFrame(
        {
            "user_id": np.empty(0, dtype=np.int64),
            "movie_id": np.empty(0, dtype=np.int64),
            "rating": np.empty(0, dtype=np.float64),
            "timestamp": np.empty(0, dtype=np.int64),
        }
    )
    return Dataset(
        ratings=empty_ratings,
        movies=movie_frame,
        tags=tag_frame,
        rating_scale=rating_scale,
        reports=reports,
        name=name,
    )


def load_ml100k(directory, *, ratings_file: str = "u.data") -> Dataset:
    """Load the ml-100k data set from its original files.

    Parameters
    ----------
    directory : str or os.PathLike
        Directory with u.data (or ``ratings_file``), u.item and u.genre.
    ratings_file : str
        Ratings file inside ``directory``, such as ``"u1.base"`` or
        ``"ua.test"`` for the published splits. Its lines are
        ``user item rating timestamp``, separated by tabs, without a header.

    Returns
    -------
    Dataset
        Named ``"ml-100k"``, or ``"ml-100k/<ratings_file>"`` for another
        ratings file. The scale is `ML100K_RATING_SCALE` and there are no tags.

    Raises
    ------
    DataError
        If a file is missing, u.genre is malformed, or no valid row is left
        in a file.

    Notes
    -----
    u.item is ``|``-separated Latin-1 text: movie id, title, release date,
    video release date, IMDb URL, then one 0/1 flag per genre of u.genre.
    The dates and URL are not kept. The year comes from the title, as for
    the CSV format. The genre "unknown" is treated as no genre, so those
    movies get ``()`` like "(no genres listed)" in the CSV format.
    """
    directory = pathlib.Path(directory)
    genre_names = _read_ml100k_genres(directory / "u.genre")

    flag_columns = [f"genre_{index}" for index in range(len(genre_names))]
    movies_table = DelimitedFile(
        directory / "u.item",
        columns=["movie_id", "title", "release_date", "video_release_date", "imdb_url", *flag_columns],
        sep="|",
        encoding="latin-1",
        quoting=csv.QUOTE_NONE,
    )
    movie_frame, movies_report = _read_ml100k_movies(movies_table, genre_names)

    ratings_table = DelimitedFile(
        directory / ratings_file,
        columns=list(_RATINGS_HEADER),
        sep="\t",
        encoding="latin-1",
        quoting=csv.QUOTE_NONE,
    )
    rating_frame, ratings_report = _read_ratings(
        ratings_table, ML100K_RATING_SCALE, pd.Index(movie_frame["movie_id"])
    )

    name = "ml-100k" if ratings_file == "u.data" else f"ml-100k/{ratings_file}"
    return Dataset(
        ratings=rating_frame,
        movies=movie_frame,
        tags=None,
        rating_scale=ML100K_RATING_SCALE,
        reports=[movies_report, ratings_report],
        name=name,
    )


def _read_ratings(table: DelimitedFile, scale: RatingScale, known_movies: pd.Index):
    """Read and validate a ratings file chunk by chunk, and return its DataFrame and report."""
    started = time.perf_counter()
    log = RejectionLog()
    parts = []

    for positions, chunk in table.read_chunks(CHUNK_ROWS):
        check = ChunkValidator(chunk, positions, log)
        check.reject_empty_rows()
        users = check.parse_integers("user_id")
        movies = check.parse_integers("movie_id")
        ratings = check.parse_ratings("rating", scale)
        timestamps = check.parse_integers("timestamp")
        check.reject(known_movies.get_indexer(movies) < 0, "unknown movie_id")

        accepted = check.accepted
        parts.append((users[accepted], movies[accepted], ratings[accepted], timestamps[accepted]))

    frame = pd.DataFrame(
        {
            "user_id": _concatenate(parts, 0, np.int64),
            "movie_id": _concatenate(parts, 1, np.int64),
            "rating": _concatenate(parts, 2, np.float64),
            "timestamp": _concatenate(parts, 3, np.int64),
        }
    )
    rows_accepted = len(frame)
    frame, replaced = keep_latest_ratings(frame)

    report = _finish_report(table, log, rows_accepted, replaced, started)
    return frame, report


def _read_movielens_movies(table: DelimitedFile):
    """Read and validate a movies.csv file, and return its DataFrame and report."""
    started = time.perf_counter()
    log = RejectionLog()

    # Movie files are small next to ratings files (9,742 rows against 100,836
    # in ml-latest-small), and one chunk lets the duplicate check see every id.
    positions, chunk = next(table.read_chunks())
    check = ChunkValidator(chunk, positions, log)
    check.reject_empty_rows()
    movie_ids = check.parse_integers("movie_id")
    titles = check.require_text("title")
    genres_text = check.require_text("genres")
    check.reject(
        chunk["genres"].str.contains(r"^\||\|\||\|$").to_numpy(dtype=bool),
        "invalid genres (empty genre name between '|' separators)",
    )
    _reject_duplicate_movies(check, movie_ids)

    accepted = check.accepted
    frame = _movie_frame(movie_ids[accepted], titles[accepted], _split_genres(genres_text[accepted]))
    report = _finish_report(table, log, len(frame), 0, started)
    return frame, report


def _read_ml100k_movies(table: DelimitedFile, genre_names: list[str]):
    """Read and validate an ml-100k u.item file, and return its DataFrame and report."""
    started = time.perf_counter()
    log = RejectionLog()

    positions, chunk = next(table.read_chunks())
    check = ChunkValidator(chunk, positions, log)
    check.reject_empty_rows()
    movie_ids = check.parse_integers("movie_id")
    titles = check.require_text("title")
    flags = chunk[[f"genre_{index}" for index in range(len(genre_names))]]
    check.reject(~flags.isin(["0", "1"]).all(axis=1).to_numpy(), "invalid genre flag (expected 0 or 1)")
    _reject_duplicate_movies(check, movie_ids)

    accepted = check.accepted
    genres = _genres_from_flags((flags.to_numpy(dtype=object)[accepted] == "1"), genre_names)
    frame = _movie_frame(movie_ids[accepted], titles[accepted], genres)
    report = _finish_report(table, log, len(frame), 0, started)
    return frame, report


def _read_tags(table: DelimitedFile, known_movies: pd.Index):
    """Read and validate a tags file chunk by chunk, and return its DataFrame and report."""
    started = time.perf_counter()
    log = RejectionLog()
    parts = []

    for positions, chunk in table.read_chunks(CHUNK_ROWS):
        check = ChunkValidator(chunk, positions, log)
        check.reject_empty_rows()
        users = check.parse_integers("user_id")
        movies = check.parse_integers("movie_id")
        tags = check.require_text("tag")
        timestamps = check.parse_integers("timestamp")
        check.reject(known_movies.get_indexer(movies) < 0, "unknown movie_id")

        accepted = check.accepted
        parts.append((users[accepted], movies[accepted], tags[accepted], timestamps[accepted]))

    frame = pd.DataFrame(
        {
            "user_id": _concatenate(parts, 0, np.int64),
            "movie_id": _concatenate(parts, 1, np.int64),
            "tag": pd.array(_concatenate(parts, 2, object), dtype="str"),
            "timestamp": _concatenate(parts, 3, np.int64),
        }
    )
    report = _finish_report(table, log, len(frame), 0, started)
    return frame, report


def _read_ml100k_genres(path) -> list[str]:
    """Return the genre names of an ml-100k u.genre file, in the order of their flags in u.item."""
    table = DelimitedFile(path, columns=["name", "index"], sep="|", encoding="latin-1", quoting=csv.QUOTE_NONE)
    _, chunk = next(table.read_chunks())
    # The file ends with a blank line, which is not an entry.
    chunk = chunk[(chunk["name"] != "") | (chunk["index"] != "")]

    names = chunk["name"].tolist()
    indexes = chunk["index"].tolist()
    valid = (
        table.skipped_rows == 0
        and len(names) > 0
        and indexes == [str(index) for index in range(len(indexes))]
        and "" not in names
    )
    if not valid:
        raise DataError(
            f"invalid genre list in {table.path}: expected lines 'name|index' with the indexes "
            "0, 1, 2, ... in order and a name on every line"
        )
    return names


def _concatenate(parts: list[tuple], column: int, dtype) -> np.ndarray:
    """Join one column of the per-chunk arrays. A file without data rows gives an empty array."""
    return np.concatenate([part[column] for part in parts] or [np.empty(0, dtype=dtype)])


def _reject_duplicate_movies(check: ChunkValidator, movie_ids: np.ndarray) -> None:
    """Reject every valid row whose movie id an earlier valid row already has."""
    accepted = check.accepted
    duplicate = np.zeros(len(movie_ids), dtype=bool)
    duplicate[accepted] = pd.Series(movie_ids[accepted]).duplicated(keep="first").to_numpy()
    check.reject(duplicate, "duplicate movie_id")


def _split_genres(genres_text: np.ndarray) -> np.ndarray:
    """Split each "A|B" genre text into a tuple of names, and return them as an object array."""
    # Only a few hundred distinct genre strings exist (951 in ml-latest-small),
    # so each is split once and the tuples are shared between movies.
    codes, distinct = pd.factorize(genres_text)
    tuples = np.empty(len(distinct), dtype=object)
    for index, text in enumerate(distinct):
        tuples[index] = () if text == _NO_GENRES else tuple(text.split("|"))
    return tuples[codes]


def _genres_from_flags(flags: np.ndarray, genre_names: list[str]) -> np.ndarray:
    """Turn a (movies x genres) boolean matrix into an object array of genre-name tuples."""
    names = np.array(genre_names, dtype=object)
    # Each distinct row of flags becomes one tuple, shared by its movies.
    combinations, codes = np.unique(flags, axis=0, return_inverse=True)
    tuples = np.empty(len(combinations), dtype=object)
    for index, row in enumerate(combinations):
        tuples[index] = tuple(name for name in names[row] if name != _ML100K_UNKNOWN_GENRE)
    return tuples[codes.reshape(-1)]


def _movie_frame(movie_ids: np.ndarray, titles: np.ndarray, genres: np.ndarray) -> pd.DataFrame:
    title_series = pd.Series(titles, dtype="str")
    year = title_series.str.extract(_TITLE_YEAR_PATTERN, expand=False).astype("Int64")
    return pd.DataFrame(
        {
            "movie_id": movie_ids,
            "title": title_series,
            "genres": pd.Series(genres, dtype=object),
            "year": year,
        }
    )


def _finish_report(table: DelimitedFile, log: RejectionLog, rows_accepted: int, replaced: int, started: float):
    """Build the file's report, log it, and raise DataError if no row was accepted."""
    log.add_lines(f"wrong number of fields (expected {len(table.columns)})", table.skipped_lines())
    report = log.report(table.path, table.rows_read, rows_accepted, table.line_numbers, replaced)

    if rows_accepted == 0:
        raise DataError(f"no valid rows in {table.path}: {report.summary()}")
    if report.rejected or report.duplicates_replaced:
        logger.warning("%s", report.summary())
    else:
        logger.info("%s", report.summary())
    logger.debug("read %s in %.3f s", table.path, time.perf_counter() - started)
    return report
