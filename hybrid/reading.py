"""Chunked reading of delimited text files as text columns, with the line number of every row.

Every field is read as text (an empty field is the empty string, never NaN),
so the checks in ``hybrid.validation`` see ids exactly as written. The CSV
parser is pandas' C engine. Lines with too many fields, which that parser
skips, are collected from its warnings so that each one can still be
counted and reported.
"""

from __future__ import annotations

import csv
import os
import re
import warnings
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from hybrid.validation import DataError

# Size of the blocks read when searching a file for the first byte that
# fails to decode.
_DECODE_BLOCK_BYTES = 1 << 20

# Text of the ParserWarning that pandas' C parser emits for each line with
# too many fields when on_bad_lines="warn" (checked with pandas 3.1). Several
# lines can share one warning, one per line of its message.
_SKIPPED_LINE = re.compile(r"Skipping line (\d+): expected \d+ fields, saw \d+")


class DelimitedFile:
    """A delimited text file read chunk by chunk as text columns.

    Parameters
    ----------
    path : str or os.PathLike
    columns : sequence of str
        Names of the columns in the chunks. Without ``header_names`` they
        are the fields of each line, in order.
    header_names : sequence of str, optional
        For a file with a header line: the name the header uses for each
        entry of ``columns``. The header must contain exactly these names,
        in any order.
    sep : str
        Field separator.
    encoding : str
        Text encoding of the file.
    quoting : int
        A ``csv`` quoting constant. Use ``csv.QUOTE_NONE`` for formats whose
        fields never have quotes, so that a ``"`` in a title stays part of it.

    Attributes
    ----------
    rows_parsed : int
        Rows returned so far, blank lines included.
    """

    def __init__(
        self,
        path,
        *,
        columns: Sequence[str],
        header_names: Sequence[str] | None = None,
        sep: str = ",",
        encoding: str = "utf-8",
        quoting: int = csv.QUOTE_MINIMAL,
    ):
        if header_names is not None and len(header_names) != len(columns):
            raise ValueError("header_names must name every entry of columns")
        self.path = os.fspath(path)
        self.columns = tuple(columns)
        self.header_names = None if header_names is None else tuple(header_names)
        self.sep = sep
        self.encoding = encoding
        self.quoting = quoting

        self.rows_parsed = 0
        self._skipped_records: list[int] = []
        # Rows with line breaks inside quoted fields, and how many each has.
        self._multiline_positions: list[np.ndarray] = []
        self._multiline_breaks: list[np.ndarray] = []

    @property
    def skipped_rows(self) -> int:
        """Number of lines the parser skipped because they had too many fields."""
        return len(self._skipped_records)

    @property
    def rows_read(self) -> int:
        """Number of data rows read so far, including the skipped ones."""
        return self.rows_parsed + self.skipped_rows

    def read_chunks(self, chunksize: int | None = None) -> Iterator[tuple[np.ndarray, pd.DataFrame]]:
        """Yield ``(positions, chunk)`` pairs covering the whole file.

        Parameters
        ----------
        chunksize : int, optional
            Maximum rows per chunk. None reads the file as one chunk.

        Yields
        ------
        positions : numpy.ndarray of int64
            0-based position of each row among all rows returned.
        chunk : pandas.DataFrame
            One str column per entry of ``columns``.

        Raises
        ------
        DataError
            If the file is missing or empty, its header does not match,
            it fails to decode with ``encoding``, or the parser fails
            (for example on a quote that is never closed).
        """
        names = self._read_header_order() if self.header_names is not None else list(self.columns)
        options = dict(
            sep=self.sep,
            header=0 if self.header_names is not None else None,
            names=names,
            dtype=str,
            keep_default_na=False,
            # Blank lines come back as empty rows, so they are counted and
            # the row positions stay in step with the parser's line count.
            skip_blank_lines=False,
            index_col=False,
            on_bad_lines="warn",
            quoting=self.quoting,
            encoding=self.encoding,
            engine="c",
        )
        if chunksize is None:
            chunk = self._call_parser(pd.read_csv, self.path, **options)
            yield self._take_chunk(chunk)
            return

        reader = self._call_parser(pd.read_csv, self.path, chunksize=chunksize, **options)
        with reader:
            while True:
                chunk = self._call_parser(next, reader, None)
                if chunk is None:
                    return
                yield self._take_chunk(chunk)

    def _take_chunk(self, chunk: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
        positions = np.arange(self.rows_parsed, self.rows_parsed + len(chunk), dtype=np.int64)
        self.rows_parsed += len(chunk)
        self._note_line_breaks(chunk, positions)
        return positions, chunk[list(self.columns)]

    def skipped_lines(self) -> np.ndarray:
        """Return the line numbers of the lines skipped for having too many fields."""
        return self._record_lines(np.array(self._skipped_records, dtype=np.int64))

    def line_numbers(self, positions: np.ndarray) -> np.ndarray:
        """Return the 1-based line number in the file of each row position.

        Call it after the whole file was read: a line that the parser skips
        shifts the positions of every row after it.

        Notes
        -----
        A skipped line is assumed to span one line. If it held a quoted
        field with a line break, the numbers after it are too small by the
        number of such breaks.
        """
        return self._record_lines(self._records(np.asarray(positions, dtype=np.int64)))

    def _records(self, positions: np.ndarray) -> np.ndarray:
        # The parser numbers records from 1, counting the header and the
        # skipped lines. The row at position p is the p-th record that was
        # not skipped, and rows_before[j] is how many rows precede skipped[j].
        skipped = np.sort(np.array(self._skipped_records, dtype=np.int64))
        first_record = 2 if self.header_names is not None else 1
        rows_before = skipped - first_record - np.arange(len(skipped))
        return positions + first_record + np.searchsorted(rows_before, positions, side="right")

    def _record_lines(self, records: np.ndarray) -> np.ndarray:
        # A record starts after all line breaks of the records before it,
        # including breaks inside quoted fields, which the parser does not count.
        if not self._multiline_positions:
            return records
        multiline_records = self._records(np.concatenate(self._multiline_positions))
        breaks_before = np.concatenate(([0], np.cumsum(np.concatenate(self._multiline_breaks))))
        return records + breaks_before[np.searchsorted(multiline_records, records, side="left")]

    def _note_line_breaks(self, chunk: pd.DataFrame, positions: np.ndarray) -> None:
        breaks = np.zeros(len(chunk), dtype=np.int64)
        for column in chunk.columns:
            values = chunk[column]
            # Joining is one fast C pass, and most columns contain no line
            # break, so the per-row count below rarely runs.
            if "\n" in "".join(values.to_numpy(dtype=object)):
                breaks += values.str.count("\n").to_numpy(dtype=np.int64)
        has_breaks = breaks > 0
        if has_breaks.any():
            self._multiline_positions.append(positions[has_breaks])
            self._multiline_breaks.append(breaks[has_breaks])

    def _read_header_order(self) -> list[str]:
        """Check the header line and return the column names in the file's order."""
        header = self._call_parser(
            pd.read_csv,
            self.path,
            sep=self.sep,
            header=None,
            nrows=1,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            index_col=False,
            quoting=self.quoting,
            encoding=self.encoding,
            engine="c",
        )
        found = header.iloc[0].tolist() if len(header) else []

        expected = list(self.header_names)
        missing = [name for name in expected if name not in found]
        unexpected = [name for name in found if name not in expected]
        repeated = sorted({name for name in found if found.count(name) > 1})
        problems = []
        if missing:
            problems.append(f"missing columns {missing}")
        if unexpected:
            problems.append(f"unexpected columns {unexpected}")
        if repeated:
            problems.append(f"repeated columns {repeated}")
        if problems:
            raise DataError(
                f"invalid header in {self.path}: {'; '.join(problems)}; found columns {found}, "
                f"expected exactly {expected} (in any order)"
            )

        column_of = dict(zip(self.header_names, self.columns))
        return [column_of[name] for name in found]

    def _call_parser(self, function, *args, **kwargs):
        """Call a pandas parsing function, turning its errors into DataError and collecting skipped lines.

        NOTE: warnings.catch_warnings changes process-wide state, so a
        warning raised by another thread during the call can be caught and
        re-emitted here. Reading files from several threads at once is untested.
        """
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            try:
                result = function(*args, **kwargs)
            except FileNotFoundError as error:
                raise DataError(f"file not found: {self.path}") from error
            except OSError as error:
                raise DataError(f"failed to read {self.path}: {error.strerror or error}") from error
            except UnicodeDecodeError as error:
                raise self._decode_error(error) from error
            except pd.errors.EmptyDataError as error:
                raise DataError(f"{self.path} is empty; expected {self._expected_layout()}") from error
            except pd.errors.ParserError as error:
                raise DataError(f"failed to parse {self.path}: {error}") from error

        for warning in caught:
            matches = []
            if issubclass(warning.category, pd.errors.ParserWarning):
                matches = _SKIPPED_LINE.findall(str(warning.message))
            if matches:
                self._skipped_records.extend(int(record) for record in matches)
            else:
                # Not ours to handle: show it as if it had not been caught.
                warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
        return result

    def _expected_layout(self) -> str:
        if self.header_names is not None:
            return f"a header line with the columns {list(self.header_names)}"
        return f"lines of {len(self.columns)} fields separated by {self.sep!r}"

    def _decode_error(self, error: UnicodeDecodeError) -> DataError:
        location = locate_decode_error(self.path, self.encoding)
        if location is None:
            where = f"({error.reason})"
        else:
            line, byte_in_line, bad_bytes = location
            where = f"at line {line}, byte {byte_in_line} of the line: {error.reason} (bytes {bad_bytes.hex(' ')})"
        return DataError(
            f"failed to decode {self.path} as {self.encoding} {where}. "
            "The file uses another encoding; pass encoding= with the right one, for example encoding='latin-1'"
        )


def locate_decode_error(path, encoding: str) -> tuple[int, int, bytes] | None:
    """Find the first bytes of a file that fail to decode.

    Returns
    -------
    tuple of (int, int, bytes) or None
        1-based line number, 1-based byte offset within that line, and the
        undecodable bytes; None if the whole file decodes, or if the
        encoding does not write a line break as the single byte ``\\n``
        (UTF-16 and UTF-32), where lines cannot be found in the raw bytes.
    """
    if "\n".encode(encoding) != b"\n":
        return None

    lines_before = 0
    pending = b""
    with open(path, "rb") as file:
        while True:
            block = file.read(_DECODE_BLOCK_BYTES)
            data = pending + block
            # Decode whole lines only, so that no multi-byte character is
            # split between two blocks.
            end = data.rfind(b"\n") + 1 if block else len(data)
            piece, pending = data[:end], data[end:]
            try:
                piece.decode(encoding)
            except UnicodeDecodeError as error:
                line = lines_before + piece.count(b"\n", 0, error.start) + 1
                line_start = piece.rfind(b"\n", 0, error.start) + 1
                return line, error.start - line_start + 1, piece[error.start : error.end]
            lines_before += piece.count(b"\n")
            if not block:
                return None
