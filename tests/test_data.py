"""Tests for loading and validating MovieLens data (hybrid.data, hybrid.validation, hybrid.reading)."""

import csv
import logging
import os
import pathlib
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hybrid.data
from hybrid.data import (
    DataError,
    Dataset,
    LoadReport,
    RatingScale,
    bundled_data_dir,
    load_bundled,
    load_ml100k,
    load_movielens_csv,
)
from hybrid.validation import parse_decimals, parse_non_negative_integers


def find_ml100k() -> pathlib.Path:
    """Return $ML100K_DIR, else a shared/data/ml-100k directory beside the repository or one level up."""
    if "ML100K_DIR" in os.environ:
        return pathlib.Path(os.environ["ML100K_DIR"])
    repository = pathlib.Path(__file__).resolve().parents[1]
    candidates = [parent / "shared" / "data" / "ml-100k" for parent in (repository.parent, repository.parent.parent)]
    return next((candidate for candidate in candidates if candidate.is_dir()), candidates[0])


ML100K_DIR = find_ml100k()
needs_ml100k = pytest.mark.skipif(
    not (ML100K_DIR / "u.data").is_file(),
    reason=f"ml-100k not found at {ML100K_DIR}; its license forbids bundling it",
)

RATINGS_HEADER = "userId,movieId,rating,timestamp\n"
MOVIES_HEADER = "movieId,title,genres\n"
TAGS_HEADER = "userId,movieId,tag,timestamp\n"
MOVIES = MOVIES_HEADER + "1,Toy Story (1995),Animation|Comedy\n2,Heat (1995),Action\n3,Nixon (1995),Drama\n"

INVALID_ID = "invalid {} (expected a non-negative integer)"


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def load(tmp_path, ratings_body, movies=MOVIES, tags_body=None, **options):
    """Write the given file contents into tmp_path and load them."""
    ratings = write(tmp_path / "ratings.csv", RATINGS_HEADER + ratings_body)
    movies_path = write(tmp_path / "movies.csv", movies)
    tags = None if tags_body is None else write(tmp_path / "tags.csv", TAGS_HEADER + tags_body)
    return load_movielens_csv(ratings, movies_path, tags, **options)


def report_of(dataset, file_name):
    (report,) = [report for report in dataset.reports if pathlib.Path(report.path).name == file_name]
    return report


# --- bundled data -------------------------------------------------------------


@pytest.fixture(scope="module")
def bundled():
    return load_bundled()


def test_bundled_row_counts(bundled):
    assert bundled.name == "ml-latest-small"
    assert len(bundled.ratings) == 100_836
    assert bundled.ratings["user_id"].nunique() == 610
    assert len(bundled.movies) == 9_742
    assert len(bundled.tags) == 3_683


def test_bundled_has_no_rejections(bundled):
    assert [pathlib.Path(report.path).name for report in bundled.reports] == ["movies.csv", "ratings.csv", "tags.csv"]
    for report in bundled.reports:
        assert report.rejected == {}, report.summary()
        assert report.examples == {}
        assert report.duplicates_replaced == 0
        assert report.rows_read == report.rows_accepted


def test_bundled_column_types(bundled):
    assert bundled.ratings.dtypes.to_dict() == {
        "user_id": np.dtype("int64"),
        "movie_id": np.dtype("int64"),
        "rating": np.dtype("float64"),
        "timestamp": np.dtype("int64"),
    }
    assert list(bundled.movies.columns) == ["movie_id", "title", "genres", "year"]
    assert bundled.movies["movie_id"].dtype == np.dtype("int64")
    assert bundled.movies["title"].dtype == "str"
    assert bundled.movies["genres"].dtype == object
    assert bundled.movies["year"].dtype == "Int64"
    assert list(bundled.tags.columns) == ["user_id", "movie_id", "tag", "timestamp"]
    assert bundled.tags["tag"].dtype == "str"
    assert bundled.tags["timestamp"].dtype == np.dtype("int64")


def test_bundled_ratings_unique_per_pair(bundled):
    assert not bundled.ratings.duplicated(["user_id", "movie_id"]).any()
    assert bundled.rating_scale == RatingScale(0.5, 5.0, 0.5)
    assert bundled.rating_scale.contains(bundled.ratings["rating"].to_numpy()).all()


def test_bundled_movies_match_file(bundled):
    with open(bundled_data_dir() / "movies.csv", encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))

    assert bundled.movies["title"].tolist() == [row["title"] for row in rows]
    no_genres = bundled.movies["genres"].map(len) == 0
    assert no_genres.sum() == sum(row["genres"] == "(no genres listed)" for row in rows) == 34

    toy_story = bundled.movies.iloc[0]
    assert toy_story["movie_id"] == 1
    assert toy_story["genres"] == ("Adventure", "Animation", "Children", "Comedy", "Fantasy")
    assert toy_story["year"] == 1995


def test_bundled_data_dir_contents():
    directory = bundled_data_dir()
    assert isinstance(directory, pathlib.Path)
    for name in ["ratings.csv", "movies.csv", "tags.csv", "links.csv", "README.txt"]:
        assert (directory / name).is_file()


def test_bundled_without_tags():
    dataset = load_bundled(with_tags=False)
    assert dataset.tags is None
    assert len(dataset.reports) == 2


def test_foreign_rating_row_rejected(tmp_path):
    # Regression: a copy of ratings.csv once carried this extra row, whose
    # movie 999999 no movies file names.
    ratings = tmp_path / "ratings.csv"
    shutil.copyfile(bundled_data_dir() / "ratings.csv", ratings)
    with open(ratings, "a", encoding="utf-8") as file:
        file.write("999,999999,5.0,1500000000\n")

    dataset = load_movielens_csv(ratings, bundled_data_dir() / "movies.csv")

    report = report_of(dataset, "ratings.csv")
    assert report.rejected == {"unknown movie_id": 1}
    assert report.examples == {"unknown movie_id": [100_838]}
    assert len(dataset.ratings) == 100_836
    assert 999 not in set(dataset.ratings["user_id"])


# --- ids ----------------------------------------------------------------------

BAD_IDS = ["801.0", "-3", "007", "abc", "1e3", "12345678901234567890", "9223372036854775808", " 5", "+5", "٣"]


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_invalid_user_id_rejected(tmp_path, bad_id):
    dataset = load(tmp_path, f"1,1,4.0,10\n{bad_id},2,4.0,10\n")

    report = report_of(dataset, "ratings.csv")
    assert report.rejected == {INVALID_ID.format("user_id"): 1}
    assert report.examples == {INVALID_ID.format("user_id"): [3]}
    assert dataset.ratings["user_id"].tolist() == [1]


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_invalid_movie_id_rejected(tmp_path, bad_id):
    dataset = load(tmp_path, f"1,1,4.0,10\n1,{bad_id},4.0,10\n")

    report = report_of(dataset, "ratings.csv")
    assert report.rejected == {INVALID_ID.format("movie_id"): 1}
    assert dataset.ratings["movie_id"].tolist() == [1]


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_invalid_movies_file_id_rejected(tmp_path, bad_id):
    dataset = load(tmp_path, "1,1,4.0,10\n", movies=MOVIES + f"{bad_id},Extra (2000),Drama\n")

    report = report_of(dataset, "movies.csv")
    assert report.rejected == {INVALID_ID.format("movie_id"): 1}
    assert report.examples == {INVALID_ID.format("movie_id"): [5]}
    assert len(dataset.movies) == 3


def test_19_digit_ids_load_exactly(tmp_path):
    movies = MOVIES + "9223372036854775807,Last (2000),Drama\n"
    dataset = load(tmp_path, "1234567890123456789,9223372036854775807,4.0,10\n0,1,3.0,0\n", movies=movies)

    assert dataset.ratings["user_id"].tolist() == [1234567890123456789, 0]
    assert dataset.ratings["movie_id"].tolist() == [9223372036854775807, 1]
    assert dataset.movies["movie_id"].iloc[-1] == 9223372036854775807


def reference_parse(text):
    """Straightforward per-value definition of a valid id, to compare the vectorized parser against."""
    canonical = text.isascii() and text.isdigit() and (text == "0" or not text.startswith("0"))
    if canonical and int(text) <= 2**63 - 1:
        return True, int(text)
    return False, 0


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.integers(min_value=-(2**64), max_value=2**65).map(str),
            st.text(alphabet="0123456789+-.e ", max_size=21),
            st.text(max_size=4),
        ),
        max_size=30,
    )
)
def test_id_parser_matches_reference(texts):
    valid, values = parse_non_negative_integers(pd.Series(texts, dtype="str"))

    expected = [reference_parse(text) for text in texts]
    assert valid.tolist() == [ok for ok, _ in expected]
    assert values.tolist() == [value for _, value in expected]
    assert values.dtype == np.int64


def test_decimal_parser_cases():
    texts = ["4", "3.5", "+1.", ".5", "1e0", "nan", "NaN", "inf", "-inf", "4,5", "1_0", "", " 4", "0x1"]
    valid, values = parse_decimals(pd.Series(texts, dtype="str"))

    assert valid.tolist() == [True] * 5 + [False] * 9
    assert values[:5].tolist() == [4.0, 3.5, 1.0, 0.5, 1.0]
    assert np.isnan(values[5:]).all()


# --- row checks ---------------------------------------------------------------


@pytest.mark.parametrize(
    "row, reason",
    [
        (",1,4.0,10", "missing user_id"),
        ("1,,4.0,10", "missing movie_id"),
        ("1,1,,10", "missing rating"),
        ("1,1,4.0,", "missing timestamp"),
        ("1,1", "missing rating"),
        ("1,1,abc,10", "invalid rating (expected a number)"),
        ("1,1,NaN,10", "invalid rating (expected a number)"),
        ("1,1,nan,10", "invalid rating (expected a number)"),
        ("1,1,inf,10", "invalid rating (expected a number)"),
        ("1,1,0,10", "rating out of range [0.5, 5.0]"),
        ("1,1,5.5,10", "rating out of range [0.5, 5.0]"),
        ("1,1,-1,10", "rating out of range [0.5, 5.0]"),
        ("1,1,1e999,10", "rating out of range [0.5, 5.0]"),
        ("1,1,3.25,10", "rating not a multiple of 0.5"),
        ("1,1,4.3,10", "rating not a multiple of 0.5"),
        ("1,1,4.0,-1", INVALID_ID.format("timestamp")),
        ("1,1,4.0,1.5", INVALID_ID.format("timestamp")),
        ("1,1,4.0,abc", INVALID_ID.format("timestamp")),
        ("1,9,4.0,10", "unknown movie_id"),
        (",,,", "empty row"),
        ("", "empty row"),
        ("1,1,4.0,10,extra", "wrong number of fields (expected 4)"),
    ],
)
def test_bad_rating_row_rejected(tmp_path, row, reason):
    dataset = load(tmp_path, f"2,2,4.5,10\n{row}\n3,3,1.0,10\n")

    report = report_of(dataset, "ratings.csv")
    assert report.rejected == {reason: 1}
    assert report.examples == {reason: [3]}
    assert report.rows_read == 3
    assert report.rows_accepted == 2
    assert dataset.ratings["user_id"].tolist() == [2, 3]


def test_first_failed_check_counts(tmp_path):
    # Both the user id and the rating are bad; the user id column comes first.
    dataset = load(tmp_path, "1,1,4.0,10\nx,9,99,-1\n")

    assert report_of(dataset, "ratings.csv").rejected == {INVALID_ID.format("user_id"): 1}


def test_summary_matches_documented_example(tmp_path):
    body = (
        "1,1,4.0,100\n"  # line 2
        "1,2,3.0,100\n"  # line 3
        "1,3,9.0,100\n"  # line 4: out of range
        "2,1,4.0,100\n"  # line 5
        "2,2,2.5,100\n"  # line 6
        "2,3,0.0,100\n"  # line 7: out of range
        "3,1,1.0,100\n"  # line 8
        "3,,1.0,100\n"  # line 9: missing movie_id
        "1,1,5.0,200\n"  # line 10: replaces line 2
        "3,2,3.5,100\n"  # line 11
    )
    dataset = load(tmp_path, body)

    report = report_of(dataset, "ratings.csv")
    assert report.summary() == (
        "ratings.csv: 10 rows read, 7 accepted; rejected: 2 rating out of range [0.5, 5.0] (lines 4, 7), "
        "1 missing movie_id (line 9); 1 duplicate (user, movie) pair replaced by its latest rating"
    )
    assert report.rejected == {"rating out of range [0.5, 5.0]": 2, "missing movie_id": 1}
    assert report.examples == {"rating out of range [0.5, 5.0]": [4, 7], "missing movie_id": [9]}
    assert report.duplicates_replaced == 1
    assert len(dataset.ratings) == 6


def test_summary_truncates_examples(tmp_path):
    dataset = load(tmp_path, "1,1,4.0,10\n" + "".join(f"{user},1,7.0,10\n" for user in range(2, 9)))

    report = report_of(dataset, "ratings.csv")
    assert report.rejected == {"rating out of range [0.5, 5.0]": 7}
    assert report.examples == {"rating out of range [0.5, 5.0]": [3, 4, 5, 6, 7]}
    assert report.summary() == (
        "ratings.csv: 8 rows read, 1 accepted; rejected: 7 rating out of range [0.5, 5.0] (lines 3, 4, 5, 6, 7, ...)"
    )


def test_summary_plural_duplicates():
    report = LoadReport("ratings.csv", 1, 1, {}, {}, duplicates_replaced=3)
    assert report.summary() == (
        "ratings.csv: 1 row read, 1 accepted; 3 duplicate (user, movie) pairs replaced by their latest rating"
    )


# --- duplicates ---------------------------------------------------------------


def test_duplicate_keeps_latest_timestamp(tmp_path):
    # The later line has the older timestamp, so the earlier line wins.
    dataset = load(tmp_path, "1,1,5.0,300\n1,2,3.0,100\n1,1,2.0,200\n")

    assert dataset.ratings.to_dict("list") == {
        "user_id": [1, 1],
        "movie_id": [1, 2],
        "rating": [5.0, 3.0],
        "timestamp": [300, 100],
    }
    report = report_of(dataset, "ratings.csv")
    assert report.duplicates_replaced == 1
    assert report.rows_accepted == 3


def test_duplicate_tie_later_line_wins(tmp_path):
    dataset = load(tmp_path, "1,1,5.0,100\n1,1,2.0,100\n1,1,3.5,100\n2,1,1.0,100\n")

    assert dataset.ratings["rating"].tolist() == [3.5, 1.0]
    assert report_of(dataset, "ratings.csv").duplicates_replaced == 2


def test_duplicates_across_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(hybrid.data, "CHUNK_ROWS", 2)
    body = "1,1,5.0,300\n1,2,3.0,100\n1,2,4.0,100\n1,1,2.0,200\n1,3,1.0,10,extra\n9,9,1.0,10\n1,3,1.5,10\n"

    dataset = load(tmp_path, body)

    assert dataset.ratings["rating"].tolist() == [5.0, 4.0, 1.5]
    report = report_of(dataset, "ratings.csv")
    assert report.duplicates_replaced == 2
    assert report.rejected == {"wrong number of fields (expected 4)": 1, "unknown movie_id": 1}
    assert report.examples == {"wrong number of fields (expected 4)": [6], "unknown movie_id": [7]}
    assert report.rows_read == 7


# --- line numbers -------------------------------------------------------------


def test_line_numbers_with_multiline_fields(tmp_path):
    tags_body = (
        '1,1,"two\nlines",10\n'  # lines 2-3
        "1,1,ok,10,extra\n"  # line 4: too many fields
        "\n"  # line 5: blank
        '1,1,"three\nline\ntag",10\n'  # lines 6-8
        "1,9,unknown movie,10\n"  # line 9
        "1,1,x,y,z\n"  # line 10: too many fields
        "1,1,,10\n"  # line 11: missing tag
    )
    dataset = load(tmp_path, "1,1,4.0,10\n", tags_body=tags_body)

    report = report_of(dataset, "tags.csv")
    assert report.examples == {
        "wrong number of fields (expected 4)": [4, 10],
        "empty row": [5],
        "unknown movie_id": [9],
        "missing tag": [11],
    }
    assert dataset.tags["tag"].tolist() == ["two\nlines", "three\nline\ntag"]
    assert report.rows_read == 7


def test_crlf_line_endings(tmp_path):
    ratings = write(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\r\n1,1,4.0,10\r\n1,2,9.0,10\r\n")
    movies = write(tmp_path / "movies.csv", 'movieId,title,genres\r\n1,"Two\r\nlines (2000)",Drama\r\n2,B,Drama\r\n')

    dataset = load_movielens_csv(ratings, movies)

    assert dataset.movies["title"].tolist() == ["Two\r\nlines (2000)", "B"]
    assert dataset.movies["genres"].tolist() == [("Drama",), ("Drama",)]
    assert report_of(dataset, "ratings.csv").examples == {"rating out of range [0.5, 5.0]": [3]}


def test_line_numbers_without_header(tmp_path):
    directory = write_ml100k(tmp_path, "1\t1\t5\t10\n1\t2\t5\t10\t99\n\n1\t3\t0\t10\n")

    report = report_of(load_ml100k(directory), "u.data")

    assert report.examples == {
        "wrong number of fields (expected 4)": [2],
        "empty row": [3],
        "rating out of range [1.0, 5.0]": [4],
    }


# --- movies -------------------------------------------------------------------


def test_movie_titles_load_exactly(tmp_path):
    movies = (
        MOVIES_HEADER
        + "1,\"Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)\",Comedy|Romance\n"
        + '2,"Title with ""quoted"" words (1999)",Drama\n'
        + "3,NA,Drama\n"
        + "4,Babylon 5,Sci-Fi\n"
        + "5,Death Note: Desu nôto (2006–2007),(no genres listed)\n"
        + "6,Trailing Space (1984) ,Drama\n"
        + '7," Leading space, comma (2010)",Drama\n'
    )
    dataset = load(tmp_path, "1,1,4.0,10\n", movies=movies)

    assert dataset.movies["title"].tolist() == [
        "Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)",
        'Title with "quoted" words (1999)',
        "NA",
        "Babylon 5",
        "Death Note: Desu nôto (2006–2007)",
        "Trailing Space (1984) ",
        " Leading space, comma (2010)",
    ]
    assert dataset.movies["year"].tolist() == [2001, 1999, pd.NA, pd.NA, pd.NA, 1984, 2010]


def test_movie_genres_split(tmp_path):
    movies = MOVIES_HEADER + "1,A (2000),Action|Sci-Fi|Film-Noir\n2,B (2000),(no genres listed)\n3,C (2000),Drama\n"
    dataset = load(tmp_path, "1,1,4.0,10\n", movies=movies)

    assert dataset.movies["genres"].tolist() == [("Action", "Sci-Fi", "Film-Noir"), (), ("Drama",)]


@pytest.mark.parametrize(
    "row, reason",
    [
        ("4,,Drama", "missing title"),
        ("4,D (2000),", "missing genres"),
        ("4,D (2000),Action||Drama", "invalid genres (empty genre name between '|' separators)"),
        ("4,D (2000),Drama|", "invalid genres (empty genre name between '|' separators)"),
        ("2,Second Heat (2000),Drama", "duplicate movie_id"),
        ("4,D (2000),Drama,extra", "wrong number of fields (expected 3)"),
    ],
)
def test_bad_movie_row_rejected(tmp_path, row, reason):
    dataset = load(tmp_path, "1,1,4.0,10\n", movies=MOVIES + row + "\n")

    report = report_of(dataset, "movies.csv")
    assert report.rejected == {reason: 1}
    assert report.examples == {reason: [5]}
    assert dataset.movies["movie_id"].tolist() == [1, 2, 3]
    assert dataset.movies["title"].tolist() == ["Toy Story (1995)", "Heat (1995)", "Nixon (1995)"]


def test_movies_header_mismatch(tmp_path):
    movies = "movie_id,title,genres\n1,A (2000),Drama\n"
    expected = (
        f"invalid header in {tmp_path / 'movies.csv'}: missing columns ['movieId']; "
        "unexpected columns ['movie_id']; found columns ['movie_id', 'title', 'genres'], "
        "expected exactly ['movieId', 'title', 'genres'] (in any order)"
    )
    with pytest.raises(DataError, match=re.escape(expected)):
        load(tmp_path, "1,1,4.0,10\n", movies=movies)


def test_movies_header_extra_column(tmp_path):
    movies = "movieId,title,genres,year\n1,A (2000),Drama,2000\n"
    with pytest.raises(DataError, match=re.escape("unexpected columns ['year']")):
        load(tmp_path, "1,1,4.0,10\n", movies=movies)


def test_header_column_order_free(tmp_path):
    ratings = write(tmp_path / "ratings.csv", "timestamp,rating,movieId,userId\n10,4.0,1,7\n")
    movies = write(tmp_path / "movies.csv", MOVIES)

    dataset = load_movielens_csv(ratings, movies)

    assert dataset.ratings.iloc[0].tolist() == [7, 1, 4.0, 10]


# --- whole-file errors --------------------------------------------------------


def test_wrong_encoding_names_line(tmp_path):
    movies = MOVIES_HEADER + "1,Toy Story (1995),Comedy\n2,Amélie (2001),Comedy\n"
    write(tmp_path / "movies.csv", movies, encoding="latin-1")
    write(tmp_path / "ratings.csv", RATINGS_HEADER + "1,1,4.0,10\n")

    with pytest.raises(DataError) as raised:
        load_movielens_csv(tmp_path / "ratings.csv", tmp_path / "movies.csv")

    message = str(raised.value)
    assert str(tmp_path / "movies.csv") in message
    assert "as utf-8" in message
    assert "at line 3, byte 5 of the line" in message
    assert "(bytes e9)" in message
    assert "pass encoding=" in message


def test_explicit_encoding_loads(tmp_path):
    movies = MOVIES_HEADER + "1,Amélie (2001),Comedy\n"
    write(tmp_path / "movies.csv", movies, encoding="latin-1")
    write(tmp_path / "ratings.csv", RATINGS_HEADER + "1,1,4.0,10\n", encoding="latin-1")

    dataset = load_movielens_csv(tmp_path / "ratings.csv", tmp_path / "movies.csv", encoding="latin-1")

    assert dataset.movies["title"].tolist() == ["Amélie (2001)"]


def test_wrong_encoding_in_later_chunk(tmp_path, monkeypatch):
    # 40,000 lines make about 440 kB, more than the C parser decodes at once,
    # so the bad byte is met after several chunks were returned.
    monkeypatch.setattr(hybrid.data, "CHUNK_ROWS", 10_000)
    write(tmp_path / "movies.csv", MOVIES)
    write(tmp_path / "ratings.csv", RATINGS_HEADER + "".join(f"{user},1,4.0,10\n" for user in range(40_000)))
    with open(tmp_path / "ratings.csv", "ab") as file:
        file.write(b"1,1,4.0,1\xff\n")

    with pytest.raises(DataError, match=re.escape("at line 40002, byte 10 of the line")):
        load_movielens_csv(tmp_path / "ratings.csv", tmp_path / "movies.csv")


def test_missing_file_names_path(tmp_path):
    write(tmp_path / "movies.csv", MOVIES)
    missing = tmp_path / "nowhere" / "ratings.csv"

    with pytest.raises(DataError, match=re.escape(f"file not found: {missing}")):
        load_movielens_csv(missing, tmp_path / "movies.csv")


def test_empty_file_raises(tmp_path):
    write(tmp_path / "movies.csv", "")
    write(tmp_path / "ratings.csv", RATINGS_HEADER)

    with pytest.raises(DataError, match=re.escape("movies.csv is empty; expected a header line with the columns")):
        load_movielens_csv(tmp_path / "ratings.csv", tmp_path / "movies.csv")


def test_no_valid_rows_raises(tmp_path):
    expected = (
        f"no valid rows in {tmp_path / 'ratings.csv'}: ratings.csv: 2 rows read, 0 accepted; "
        "rejected: 2 unknown movie_id (lines 2, 3)"
    )
    with pytest.raises(DataError, match=re.escape(expected)):
        load(tmp_path, "1,7,4.0,10\n2,8,4.0,10\n")


def test_header_only_file_raises(tmp_path):
    with pytest.raises(DataError, match=re.escape("ratings.csv: 0 rows read, 0 accepted")):
        load(tmp_path, "")


def test_unclosed_quote_raises(tmp_path):
    with pytest.raises(DataError, match=re.escape("failed to parse")):
        load(tmp_path, '1,1,4.0,10\n2,"2,4.0,10\n')


# --- logging ------------------------------------------------------------------


def test_rejections_logged_once(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="hybrid"):
        dataset = load(tmp_path, "1,1,4.0,10\n1,1,7.0,10\n", tags_body="1,1,fine,10\n")

    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert [record.getMessage() for record in warnings] == [report_of(dataset, "ratings.csv").summary()]
    infos = [record.getMessage() for record in caplog.records if record.levelno == logging.INFO]
    assert infos == ["movies.csv: 3 rows read, 3 accepted", "tags.csv: 1 row read, 1 accepted"]


# --- tags ---------------------------------------------------------------------


def test_tags_load_exactly(tmp_path):
    tags_body = '1,1,"funny, sad",10\n2,2,"the ""best""",20\n3,3,NA,30\n4,9,orphan,40\n5,1,,50\n1,1,funny,60\n'
    dataset = load(tmp_path, "1,1,4.0,10\n", tags_body=tags_body)

    assert dataset.tags.to_dict("list") == {
        "user_id": [1, 2, 3, 1],
        "movie_id": [1, 2, 3, 1],
        "tag": ["funny, sad", 'the "best"', "NA", "funny"],
        "timestamp": [10, 20, 30, 60],
    }
    report = report_of(dataset, "tags.csv")
    assert report.rejected == {"unknown movie_id": 1, "missing tag": 1}
    assert report.examples == {"unknown movie_id": [5], "missing tag": [6]}


def test_dataset_name_from_directory(tmp_path):
    directory = tmp_path / "ml-custom"
    directory.mkdir()
    dataset = load(directory, "1,1,4.0,10\n")

    assert dataset.name == "ml-custom"
    assert isinstance(dataset, Dataset)


# --- rating scale -------------------------------------------------------------


def test_scale_contains_half_steps():
    scale = RatingScale()
    values = np.array([0.5, 1.0, 4.5, 5.0, 0.0, 5.5, 0.75, np.nan, np.inf, -np.inf])

    assert scale.contains(values).tolist() == [True] * 4 + [False] * 6


def test_scale_without_step():
    scale = RatingScale(minimum=-10.0, maximum=10.0, step=None)
    values = np.array([-10.0, 0.123, 10.0, 10.01, np.nan])

    assert scale.contains(values).tolist() == [True, True, True, False, False]


def test_scale_tolerates_binary_rounding():
    scale = RatingScale(minimum=0.0, maximum=1.0, step=0.1)

    assert scale.contains(np.array([0.3, 0.7, 0.1 + 0.2, 0.35])).tolist() == [True, True, True, False]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(minimum=5.0, maximum=1.0), "minimum must not exceed maximum"),
        (dict(maximum=float("inf")), "minimum and maximum must be finite"),
        (dict(step=0.0), "step must be a positive number or None"),
        (dict(step=-0.5), "step must be a positive number or None"),
        (dict(minimum=0.25, step=0.5), "minimum must be a multiple of step"),
    ],
)
def test_scale_rejects_bad_arguments(arguments, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        RatingScale(**arguments)


def test_custom_scale_messages(tmp_path):
    scale = RatingScale(minimum=1, maximum=10, step=1)
    dataset = load(tmp_path, "1,1,10,10\n1,2,1.5,10\n1,3,11,10\n", rating_scale=scale)

    assert report_of(dataset, "ratings.csv").rejected == {
        "rating not a multiple of 1.0": 1,
        "rating out of range [1.0, 10.0]": 1,
    }
    assert dataset.rating_scale is scale


# --- ml-100k ------------------------------------------------------------------

ML100K_GENRES = "unknown|0\nAction|1\nChildren's|2\n\n"


def write_ml100k(directory, ratings_body, items=None):
    """Write a three-genre ml-100k directory; return its path."""
    if items is None:
        items = "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|1\n2|unknown||||1|0|0\n3|Misérables, Les (1995)|||x|0|1|1\n"
    write(directory / "u.genre", ML100K_GENRES, encoding="latin-1")
    write(directory / "u.item", items, encoding="latin-1")
    write(directory / "u.data", ratings_body, encoding="latin-1")
    return directory


def test_ml100k_format_fixture(tmp_path):
    directory = write_ml100k(tmp_path, "1\t1\t5\t874965758\n2\t3\t1\t874965759\n")

    dataset = load_ml100k(directory)

    assert dataset.name == "ml-100k"
    assert dataset.tags is None
    assert dataset.rating_scale == RatingScale(1.0, 5.0, 1.0)
    assert dataset.movies["movie_id"].tolist() == [1, 2, 3]
    assert dataset.movies["title"].tolist() == ["Toy Story (1995)", "unknown", "Misérables, Les (1995)"]
    assert dataset.movies["genres"].tolist() == [("Children's",), (), ("Action", "Children's")]
    assert dataset.movies["year"].tolist() == [1995, pd.NA, 1995]
    assert dataset.ratings["rating"].tolist() == [5.0, 1.0]


def test_ml100k_fixture_bad_rows(tmp_path):
    items = "1|A (1995)|||x|0|0|1\n2|B (1995)|||x|0|2|1\n"
    directory = write_ml100k(tmp_path, "1\t1\t4.5\t10\n1\t1\t3\t10\n1\t2\t3\t10\n", items=items)

    dataset = load_ml100k(directory)

    assert report_of(dataset, "u.item").rejected == {"invalid genre flag (expected 0 or 1)": 1}
    assert report_of(dataset, "u.data").rejected == {"rating not a multiple of 1.0": 1, "unknown movie_id": 1}
    assert dataset.ratings["rating"].tolist() == [3.0]


def test_ml100k_bad_genre_file(tmp_path):
    directory = write_ml100k(tmp_path, "1\t1\t5\t10\n")
    write(directory / "u.genre", "unknown|0\nAction|2\n")

    with pytest.raises(DataError, match=re.escape(f"invalid genre list in {directory / 'u.genre'}")):
        load_ml100k(directory)


def test_ml100k_missing_directory(tmp_path):
    with pytest.raises(DataError, match=re.escape(f"file not found: {tmp_path / 'absent' / 'u.genre'}")):
        load_ml100k(tmp_path / "absent")


@needs_ml100k
def test_ml100k_counts():
    dataset = load_ml100k(ML100K_DIR)

    assert len(dataset.ratings) == 100_000
    assert dataset.ratings["user_id"].nunique() == 943
    assert len(dataset.movies) == 1_682
    for report in dataset.reports:
        assert report.rejected == {}, report.summary()
        assert report.duplicates_replaced == 0


@needs_ml100k
def test_ml100k_titles_and_genres():
    movies = load_ml100k(ML100K_DIR).movies.set_index("movie_id")

    assert movies.loc[1, "title"] == "Toy Story (1995)"
    assert movies.loc[1, "genres"] == ("Animation", "Children's", "Comedy")
    assert movies.loc[543, "title"] == "Misérables, Les (1995)"
    assert movies.loc[1633, "title"] == "Á köldum klaka (Cold Fever) (1994)"
    assert movies.loc[267, "genres"] == ()


@needs_ml100k
def test_ml100k_split_file():
    dataset = load_ml100k(ML100K_DIR, ratings_file="u1.base")

    assert dataset.name == "ml-100k/u1.base"
    assert len(dataset.ratings) == 80_000
