"""Vectorized checks on text columns read from MovieLens files, and the report of what they rejected.

Every check works on whole pandas columns at once. The loaders in
``hybrid.data`` call them chunk by chunk, so the same code serves a file of
100 thousand ratings and one of 20 million.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

# Number of line numbers kept per rejection reason in a LoadReport.
MAX_EXAMPLES = 5

# Exact spelling of the largest int64. A 19-digit id is in range when it sorts
# at or below this text, because digit strings of equal length compare as numbers.
_INT64_MAX_TEXT = str(np.iinfo(np.int64).max)

# Canonical non-negative integer: no sign, no leading zero, no decimal point,
# ASCII digits only, at most 19 digits (longer ones exceed int64).
_INTEGER_PATTERN = r"0|[1-9][0-9]{0,18}"

# Plain decimal number with an optional exponent. The words "nan" and "inf",
# which float() would accept, do not match.
_DECIMAL_PATTERN = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"

# Tolerance when testing that rating / step is a whole number,
# so that a scale step such as 0.1 accepts 0.3 despite binary rounding.
_STEP_TOLERANCE = 1e-9


class DataError(ValueError):
    """Raised when a data file cannot be used at all.

    Examples are a missing file, a header without the expected columns, a
    file that does not decode with the given encoding, or a file in which no
    valid row is left. Single bad rows are not errors: the loaders reject
    them and count them in a `LoadReport`.
    """


@dataclass(frozen=True)
class RatingScale:
    """Range and granularity of the ratings in a data set.

    Parameters
    ----------
    minimum, maximum : float
        Lowest and highest valid rating, both included.
    step : float or None
        Spacing of the valid ratings, counted from zero, so ``0.5`` allows
        0.5, 1.0, 1.5 and so on. ``None`` allows any value in the range.

    Raises
    ------
    ValueError
        If a bound is not finite, ``minimum > maximum``, ``step`` is not
        positive, or ``minimum`` is not a multiple of ``step``.
    """

    minimum: float = 0.5
    maximum: float = 5.0
    step: float | None = 0.5

    def __post_init__(self):
        if not (math.isfinite(self.minimum) and math.isfinite(self.maximum)):
            raise ValueError(
                f"minimum and maximum must be finite, got minimum={self.minimum!r}, maximum={self.maximum!r}"
            )
        if self.minimum > self.maximum:
            raise ValueError(
                f"minimum must not exceed maximum, got minimum={self.minimum!r}, maximum={self.maximum!r}"
            )
        if self.step is None:
            return
        if not (math.isfinite(self.step) and self.step > 0):
            raise ValueError(f"step must be a positive number or None, got step={self.step!r}")
        # Requiring this makes "on a step from zero" and "on a step from the
        # minimum" the same rule, so the rejection message stays true.
        if not self.on_step(np.array([self.minimum]))[0]:
            raise ValueError(
                f"minimum must be a multiple of step, got minimum={self.minimum!r}, step={self.step!r}"
            )

    def in_range(self, values: np.ndarray) -> np.ndarray:
        """Return a boolean mask of the values within ``[minimum, maximum]``. NaN is outside."""
        values = np.asarray(values, dtype=np.float64)
        return (values >= self.minimum) & (values <= self.maximum)

    def on_step(self, values: np.ndarray) -> np.ndarray:
        """Return a boolean mask of the values that are whole multiples of ``step``.

        Every finite value is on a step when ``step`` is None. NaN and
        infinity never are.
        """
        values = np.asarray(values, dtype=np.float64)
        if self.step is None:
            return np.isfinite(values)
        with np.errstate(invalid="ignore"):
            steps = values / self.step
            return np.abs(steps - np.rint(steps)) <= _STEP_TOLERANCE

    def contains(self, values: np.ndarray) -> np.ndarray:
        """Return a boolean mask of the values that are valid ratings on this scale.

        Parameters
        ----------
        values : array_like of float

        Returns
        -------
        numpy.ndarray of bool
            True where the value is within the range and on a step.
        """
        return self.in_range(values) & self.on_step(values)

    def describe_range(self) -> str:
        """Return the range as text, for example ``"[0.5, 5.0]"``."""
        return f"[{float(self.minimum)!r}, {float(self.maximum)!r}]"


@dataclass
class LoadReport:
    """Account of one file read: how many rows were read, accepted and rejected, and why.

    Every row of the file is counted once:
    ``rows_read == rows_accepted + sum(rejected.values())``. A blank line
    counts as a row and is rejected as ``"empty row"``.

    Attributes
    ----------
    path : str
        Path of the file as given to the loader.
    rows_read : int
        Data rows in the file, without the header line.
    rows_accepted : int
        Rows that passed every check. For a ratings file this includes the
        rows later replaced by a newer rating of the same (user, movie) pair.
    rejected : dict of str to int
        Number of rejected rows per reason. A row that fails several checks
        counts under the first one, in the order of the file's columns and
        with the checks against other files last.
    examples : dict of str to list of int
        The first few (at most 5) 1-based line numbers in the file of the
        rows rejected for each reason. The header is line 1.
    duplicates_replaced : int
        Accepted rows dropped because the same (user, movie) pair has a
        later rating. The data set keeps ``rows_accepted - duplicates_replaced``
        rows.
    """

    path: str
    rows_read: int
    rows_accepted: int
    rejected: dict[str, int]
    examples: dict[str, list[int]]
    duplicates_replaced: int = 0

    def summary(self) -> str:
        """Return the report as one readable line.

        Examples
        --------
        ``"ratings.csv: 10 rows read, 7 accepted; rejected: 2 rating out of
        range [0.5, 5.0] (lines 4, 7), 1 missing movie_id (line 9);
        1 duplicate (user, movie) pair replaced by its latest rating"``
        """
        noun = "row" if self.rows_read == 1 else "rows"
        parts = [f"{os.path.basename(self.path)}: {self.rows_read} {noun} read, {self.rows_accepted} accepted"]

        if self.rejected:
            reasons = [
                f"{count} {reason}{_format_lines(self.examples.get(reason, []), count)}"
                for reason, count in self.rejected.items()
            ]
            parts.append("rejected: " + ", ".join(reasons))

        if self.duplicates_replaced == 1:
            parts.append("1 duplicate (user, movie) pair replaced by its latest rating")
        elif self.duplicates_replaced > 1:
            parts.append(
                f"{self.duplicates_replaced} duplicate (user, movie) pairs replaced by their latest rating"
            )

        return "; ".join(parts)


def _format_lines(lines: list[int], count: int) -> str:
    if not lines:
        return ""
    label = "line" if len(lines) == 1 else "lines"
    text = ", ".join(str(line) for line in lines)
    if count > len(lines):
        text += ", ..."
    return f" ({label} {text})"


class RejectionLog:
    """Counts of rejected rows per reason for one file, with the first few example rows.

    Rows are known by their position, which is their 0-based index among
    the rows the CSV parser returned. Rows the parser itself skipped are
    known only by line number and are added with `add_lines`.
    """

    def __init__(self):
        self.counts: dict[str, int] = {}
        self._example_positions: dict[str, list[int]] = {}
        self._example_lines: dict[str, list[int]] = {}

    def add_rows(self, reason: str, positions: np.ndarray) -> None:
        """Count the rows at ``positions`` (ascending) as rejected for ``reason``."""
        if len(positions) == 0:
            return
        self.counts[reason] = self.counts.get(reason, 0) + len(positions)
        examples = self._example_positions.setdefault(reason, [])
        missing = MAX_EXAMPLES - len(examples)
        if missing > 0:
            examples.extend(int(position) for position in positions[:missing])

    def add_lines(self, reason: str, lines: np.ndarray) -> None:
        """Count rows known only by their line numbers (ascending) as rejected for ``reason``."""
        if len(lines) == 0:
            return
        self.counts[reason] = self.counts.get(reason, 0) + len(lines)
        examples = self._example_lines.setdefault(reason, [])
        missing = MAX_EXAMPLES - len(examples)
        if missing > 0:
            examples.extend(int(line) for line in lines[:missing])

    def report(self, path, rows_read, rows_accepted, line_numbers, duplicates_replaced=0) -> LoadReport:
        """Build the `LoadReport`, converting example positions to line numbers.

        Parameters
        ----------
        line_numbers : callable
            Maps an array of row positions to their 1-based line numbers.
            It is called once, after the whole file was read, because only
            then are all lines the parser skipped known.

        Notes
        -----
        Reasons are listed in the order of their first example line.
        """
        reasons = list(self.counts)
        positions = [position for reason in reasons for position in self._example_positions.get(reason, [])]
        lines_of_positions = iter(line_numbers(np.array(positions, dtype=np.int64)).tolist())

        examples = {}
        for reason in reasons:
            converted = [next(lines_of_positions) for _ in self._example_positions.get(reason, [])]
            examples[reason] = sorted(converted + self._example_lines.get(reason, []))[:MAX_EXAMPLES]

        reasons.sort(key=lambda reason: examples[reason][0] if examples[reason] else 0)
        return LoadReport(
            path=os.fspath(path),
            rows_read=rows_read,
            rows_accepted=rows_accepted,
            rejected={reason: self.counts[reason] for reason in reasons},
            examples={reason: examples[reason] for reason in reasons},
            duplicates_replaced=duplicates_replaced,
        )


class ChunkValidator:
    """Checks on one chunk of text columns, recording each rejected row under its first failed check.

    Call the checks in the order the reasons should take precedence. A row
    already rejected is not counted again. `accepted` is the mask of rows
    that passed every check so far.

    Parameters
    ----------
    chunk : pandas.DataFrame
        Text columns, as read by ``hybrid.reading.DelimitedFile``: no NaN,
        an empty field is the empty string.
    positions : numpy.ndarray of int64
        Position of each row in the file, for the report.
    log : RejectionLog
        Where rejected rows are counted.
    """

    def __init__(self, chunk: pd.DataFrame, positions: np.ndarray, log: RejectionLog):
        self.chunk = chunk
        self.positions = positions
        self.log = log
        self.rejected = np.zeros(len(chunk), dtype=bool)
        self._missing: dict[str, np.ndarray] = {}

    @property
    def accepted(self) -> np.ndarray:
        """Boolean mask of the rows not rejected so far."""
        return ~self.rejected

    def reject(self, mask: np.ndarray, reason: str) -> None:
        """Reject the rows where ``mask`` is true, unless an earlier check rejected them."""
        new = mask & ~self.rejected
        if new.any():
            self.log.add_rows(reason, self.positions[new])
            self.rejected |= new

    def missing(self, column: str) -> np.ndarray:
        """Return the mask of rows whose field in ``column`` is empty."""
        if column not in self._missing:
            self._missing[column] = (self.chunk[column] == "").to_numpy(dtype=bool)
        return self._missing[column]

    def reject_empty_rows(self) -> None:
        """Reject rows whose fields are all empty, which includes blank lines."""
        empty = np.logical_and.reduce([self.missing(column) for column in self.chunk.columns])
        self.reject(empty, "empty row")

    def require_text(self, column: str) -> np.ndarray:
        """Reject rows with an empty ``column`` and return the column as an object array of str."""
        self.reject(self.missing(column), f"missing {column}")
        return self.chunk[column].to_numpy(dtype=object)

    def parse_integers(self, column: str) -> np.ndarray:
        """Reject rows whose ``column`` is empty or not a canonical non-negative integer.

        Returns
        -------
        numpy.ndarray of int64
            The parsed values, with 0 in rejected rows.
        """
        self.reject(self.missing(column), f"missing {column}")
        valid, values = parse_non_negative_integers(self.chunk[column])
        self.reject(~valid, f"invalid {column} (expected a non-negative integer)")
        return values

    def parse_ratings(self, column: str, scale: RatingScale) -> np.ndarray:
        """Reject rows whose ``column`` is empty, not a number, or not a rating on ``scale``.

        Returns
        -------
        numpy.ndarray of float64
            The parsed values, with NaN in rows that are not numbers.
        """
        self.reject(self.missing(column), f"missing {column}")
        valid, values = parse_decimals(self.chunk[column])
        self.reject(~valid, f"invalid {column} (expected a number)")
        self.reject(~scale.in_range(values), f"{column} out of range {scale.describe_range()}")
        if scale.step is not None:
            self.reject(~scale.on_step(values), f"{column} not a multiple of {float(scale.step)!r}")
        return values


def parse_non_negative_integers(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse a text column of canonical non-negative integers exactly, without going through float.

    Canonical means ASCII digits with no sign, no leading zero (except
    ``"0"`` itself), no decimal point or exponent and no surrounding
    spaces, at most 9223372036854775807. So ``"801.0"``, ``"-3"``,
    ``"007"``, ``"1e3"`` and a 20-digit number are invalid.

    Parameters
    ----------
    text : pandas.Series of str

    Returns
    -------
    valid : numpy.ndarray of bool
    values : numpy.ndarray of int64
        The parsed values, with 0 where invalid.
    """
    # MovieLens ids and ratings repeat heavily (610 distinct user ids in the
    # 100,836 bundled ratings), so checking each distinct text once is about
    # four times faster for them. Timestamps rarely repeat, and for them it
    # costs about 20% more than checking every row.
    codes, uniques = pd.factorize(text)
    distinct = pd.Series(uniques, dtype="str")

    canonical = distinct.str.fullmatch(_INTEGER_PATTERN).to_numpy(dtype=bool)
    in_int64_range = (distinct.str.len() < 19).to_numpy(dtype=bool) | (distinct <= _INT64_MAX_TEXT).to_numpy(dtype=bool)
    valid = canonical & in_int64_range

    values = np.zeros(len(distinct), dtype=np.int64)
    values[valid] = distinct[valid].astype("int64").to_numpy()
    return _broadcast(codes, valid, False), _broadcast(codes, values, 0)


def parse_decimals(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse a text column of decimal numbers such as ``"4"``, ``"3.5"`` or ``"1e0"``.

    ``"nan"``, ``"inf"``, empty fields and any other text are invalid.

    Returns
    -------
    valid : numpy.ndarray of bool
    values : numpy.ndarray of float64
        The parsed values, with NaN where invalid. A valid number too large for
        float64 becomes infinity.
    """
    codes, uniques = pd.factorize(text)
    distinct = pd.Series(uniques, dtype="str")

    valid = distinct.str.fullmatch(_DECIMAL_PATTERN).to_numpy(dtype=bool)
    values = np.full(len(distinct), np.nan)
    values[valid] = distinct[valid].astype("float64").to_numpy()
    return _broadcast(codes, valid, False), _broadcast(codes, values, np.nan)


def _broadcast(codes: np.ndarray, distinct_values: np.ndarray, fill) -> np.ndarray:
    # pd.factorize gives NaN the code -1, which indexes the appended fill value.
    return np.append(distinct_values, fill)[codes]


def keep_latest_ratings(ratings: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Keep one rating per (user, movie) pair: the one with the latest timestamp.

    When timestamps tie, the row that comes later in ``ratings`` wins. The
    kept rows stay in their original order.

    Parameters
    ----------
    ratings : pandas.DataFrame
        Columns ``user_id``, ``movie_id`` and ``timestamp``, rows in file order.

    Returns
    -------
    ratings : pandas.DataFrame
        The kept rows, with a fresh RangeIndex.
    replaced : int
        Number of rows dropped.
    """
    # A hash pass finds the duplicated rows, usually few, and only those are sorted.
    candidates = np.flatnonzero(ratings.duplicated(["user_id", "movie_id"], keep=False).to_numpy())
    if len(candidates) == 0:
        return ratings, 0

    users = ratings["user_id"].to_numpy()[candidates]
    movies = ratings["movie_id"].to_numpy()[candidates]
    timestamps = ratings["timestamp"].to_numpy()[candidates]
    order = np.lexsort((candidates, timestamps, movies, users))

    sorted_users = users[order]
    sorted_movies = movies[order]
    is_last_of_pair = np.ones(len(order), dtype=bool)
    is_last_of_pair[:-1] = (sorted_users[1:] != sorted_users[:-1]) | (sorted_movies[1:] != sorted_movies[:-1])
    dropped = candidates[order[~is_last_of_pair]]

    keep = np.ones(len(ratings), dtype=bool)
    keep[dropped] = False
    return ratings[keep].reset_index(drop=True), len(dropped)
