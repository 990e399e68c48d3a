"""The page cache and the small formatting helpers of the views."""

from __future__ import annotations

from accuguard.dashboard.pages import RANGES
from accuguard.dashboard.views import PageCache, _float, _num, _pct, _ttl


def test_a_cached_page_is_reused_within_its_ttl_and_recomputed_after():
    cache, calls = PageCache(), []

    def compute():
        calls.append(1)
        return {"n": len(calls)}

    assert cache.get(("q", "fraud"), 60, compute)["n"] == 1
    assert cache.get(("q", "fraud"), 60, compute)["n"] == 1  # reused
    assert cache.get(("q", "fraud"), 0, compute)["n"] == 2  # expired
    assert "computed_at" in cache.get(("q", "shop"), 60, compute)


def test_the_cache_keeps_at_most_size_entries_oldest_out_first():
    cache = PageCache(size=2)
    for key in "abc":
        cache.get((key,), 60, lambda k=key: {"k": k})
    assert cache.get(("a",), 60, lambda: {"k": "again"})["k"] == "again"
    assert cache.get(("c",), 60, lambda: {"k": "again"})["k"] == "c"


def test_ttl_is_a_tenth_of_a_bucket_between_10_s_and_5_minutes():
    assert [_ttl(RANGES[r]) for r in ("1h", "24h", "365d")] == [30.0, 300.0, 300.0]


def test_number_formatting_and_parameter_parsing():
    assert (_num(None), _num(1234), _num(0.123456), _num(float("nan"))) == (
        "-",
        "1,234",
        "0.123",
        "-",
    )
    assert _pct(0.5) == "50.0 %" and _pct(None) == "-"
    assert _float(None, 0.05, 0.001, 10) == 0.05
    assert _float("x", 0.05, 0.001, 10) is None and _float("20", 0.05, 0.001, 10) is None
