"""Data-quality shares and flags over counts."""

import math

import pytest

from accuguard.stats.quality import (
    duplicate_share,
    is_constant,
    is_constant_numeric,
    null_share,
    out_of_range_share,
    share,
    unseen_categories,
    unseen_category_share,
)


def test_shares_divide_part_by_whole():
    assert null_share(5, 200) == 0.025
    assert out_of_range_share(1, 4) == 0.25
    assert duplicate_share(3, 3) == 1.0


def test_share_of_nothing_is_nan():
    assert math.isnan(share(0, 0))
    assert math.isnan(null_share(0, 0))


@pytest.mark.parametrize(
    ("part", "whole", "message"),
    [
        (-1, 5, "part and whole must be >= 0; got part=-1, whole=5"),
        (6, 5, "part must be <= whole; got part=6, whole=5"),
    ],
)
def test_share_rejects_impossible_counts(part, whole, message):
    with pytest.raises(ValueError, match=message):
        share(part, whole)


def test_unseen_categories_ignore_zero_counts_on_both_sides():
    ref = {"a": 10, "b": 0}
    cur = {"a": 5, "b": 2, "c": 3, "d": 0}
    assert unseen_categories(ref, cur) == ["b", "c"]
    assert unseen_category_share(ref, cur) == pytest.approx(0.5)


def test_unseen_category_share_of_an_empty_current_side_is_nan():
    assert math.isnan(unseen_category_share({"a": 1}, {}))


def test_constant_means_exactly_one_distinct_value():
    assert is_constant(1) and not is_constant(0) and not is_constant(2)
    assert is_constant_numeric(3.0, 3.0, 7)
    assert not is_constant_numeric(math.nan, math.nan, 0)
    with pytest.raises(ValueError, match="distinct must be >= 0; got -1"):
        is_constant(-1)
