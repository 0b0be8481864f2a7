import re

import numpy as np
import pytest

from hybrid.ids import IdIndex, InvalidIdError, check_id, parse_id


def test_index_maps_ids_both_ways():
    index = IdIndex([30, 10, 20])

    assert index.index_of(10) == 1
    assert index.id_of(1) == 10
    assert index.indices_of([20, 30, 10]).tolist() == [2, 0, 1]
    assert index.ids_of([2, 0]).tolist() == [20, 30]


def test_unknown_ids_map_to_minus_one_or_none():
    index = IdIndex([5, 7])

    assert index.index_of(6) is None
    assert index.indices_of([6, 7, 100]).tolist() == [-1, 1, -1]
    assert 6 not in index
    assert 7 in index


def test_round_trip_keeps_a_19_digit_id():
    big = 1234567890123456789
    index = IdIndex([big, 1])

    assert index.id_of(index.index_of(big)) == big
    assert index.ids_of(index.indices_of([big])).tolist() == [big]


def test_empty_index_maps_nothing():
    index = IdIndex(np.zeros(0, dtype=np.int64))

    assert len(index) == 0
    assert index.indices_of([1, 2]).tolist() == [-1, -1]


def test_repeated_ids_are_rejected():
    with pytest.raises(ValueError, match=r"ids must be distinct, got repeated ids \[4\]"):
        IdIndex([4, 2, 4])


def test_with_ids_appends_new_indices():
    index = IdIndex([8, 3]).with_ids([5])

    assert index.index_of(5) == 2
    assert index.indices_of([3, 5, 8]).tolist() == [1, 2, 0]


@pytest.mark.parametrize("text", ["0", "1", "801", "9223372036854775807"])
def test_parse_id_accepts_canonical_integers(text):
    assert parse_id(text, "user_id") == int(text)


@pytest.mark.parametrize("text", ["801.0", "007", "-3", "+3", "1e3", "abc", "", " 1", "9223372036854775808"])
def test_parse_id_rejects_everything_else(text):
    with pytest.raises(InvalidIdError, match=re.escape(f"invalid user_id {text!r}: expected a non-negative integer")):
        parse_id(text, "user_id")


@pytest.mark.parametrize("value", [True, 1.0, "1", -1, None, 2**63])
def test_check_id_rejects_non_integers(value):
    with pytest.raises(InvalidIdError, match=r"invalid movie_id .*: expected a non-negative integer at most 9223372036854775807"):
        check_id(value, "movie_id")
