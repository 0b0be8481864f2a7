"""The one mapping between external ids and matrix indices.

Two id spaces meet here. A ``user_id`` or ``movie_id`` is what the data
files and API clients use: a non-negative integer that fits in int64. A
``user_index`` or ``movie_index`` is a row or column of the users x items
matrices that every model works on. Nothing outside this module converts
one into the other.
"""

import re

import numpy as np

# A canonical id is written the one way Python's int() -> str() would write
# it back, so an id read from a file or a URL is returned byte for byte.
_CANONICAL_ID = re.compile(r"0|[1-9][0-9]{0,18}")
MAX_ID = np.iinfo(np.int64).max


class InvalidIdError(ValueError):
    """Raised when a text or value is not a valid external id."""


def parse_id(text, field):
    """Return the integer id written in ``text``, or raise ``InvalidIdError``.

    Only canonical non-negative integers up to int64's maximum are ids:
    ``"801.0"``, ``"007"``, ``"-3"`` and ``"1e3"`` are rejected rather than
    coerced, so an id always comes back exactly as the client wrote it.
    """
    if not isinstance(text, str) or not _CANONICAL_ID.fullmatch(text) or int(text) > MAX_ID:
        raise InvalidIdError(
            f"invalid {field} {text!r}: expected a non-negative integer without sign, "
            f"decimal point or leading zeros, at most {MAX_ID}"
        )
    return int(text)


def check_id(value, field):
    """Return ``value`` if it is a valid integer id (a JSON integer, not a bool), else raise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > MAX_ID:
        raise InvalidIdError(
            f"invalid {field} {value!r}: expected a non-negative integer at most {MAX_ID}"
        )
    return value


class IdIndex:
    """Bidirectional mapping between external ids and contiguous indices.

    Index ``k`` belongs to ``ids[k]``. Scalar look-ups go through a dict;
    array look-ups use a sorted copy and ``np.searchsorted`` so that mapping a
    whole column of a ratings file stays vectorized.

    Parameters
    ----------
    ids : array-like of int64
        Distinct external ids in index order.
    """

    def __init__(self, ids):
        self.ids = np.asarray(ids, dtype=np.int64)
        if self.ids.ndim != 1:
            raise ValueError(f"ids must be one-dimensional, got shape {self.ids.shape}")

        self._order = np.argsort(self.ids, kind="stable")
        self._sorted = self.ids[self._order]
        if self._sorted.size > 1 and (self._sorted[1:] == self._sorted[:-1]).any():
            duplicated = self._sorted[1:][self._sorted[1:] == self._sorted[:-1]]
            raise ValueError(f"ids must be distinct, got repeated ids {duplicated[:5].tolist()}")

        self._lookup = {int(external): index for index, external in enumerate(self.ids.tolist())}

    def __len__(self):
        return self.ids.size

    def __contains__(self, external_id):
        return external_id in self._lookup

    def index_of(self, external_id):
        """Return the index of ``external_id``, or None when it is unknown."""
        return self._lookup.get(external_id)

    def indices_of(self, external_ids):
        """Return the indices of an array of ids, with -1 where an id is unknown."""
        query = np.asarray(external_ids, dtype=np.int64)
        position = np.searchsorted(self._sorted, query)
        position = np.minimum(position, max(self._sorted.size - 1, 0))

        if self._sorted.size == 0:
            return np.full(query.shape, -1, dtype=np.int64)
        found = self._sorted[position] == query
        return np.where(found, self._order[position], -1).astype(np.int64)

    def id_of(self, index):
        """Return the external id at ``index`` as a Python int."""
        return int(self.ids[index])

    def ids_of(self, indices):
        """Return the external ids at ``indices`` as an int64 array."""
        return self.ids[np.asarray(indices, dtype=np.int64)]

    def with_ids(self, new_ids):
        """Return a new index with ``new_ids`` appended after the existing ones."""
        return IdIndex(np.concatenate([self.ids, np.asarray(new_ids, dtype=np.int64)]))
