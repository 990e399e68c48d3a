"""Duplicate rows: one 64-bit hash per row, computed on the values, and a mergeable counter.

A row's hash depends only on its values, never on the chunk it sits in (dictionary codes
differ between chunks, so dictionaries are hashed by value), so the same row in two
chunks hashes equal and duplicates are found across a whole streamed file.

Per column, vectorised with numpy:

- integers, temporals, booleans: the 64-bit integer value, mixed with the SplitMix64
  finaliser (Steele, Lea & Flood 2014);
- floats: the float64 bit pattern with ``-0.0`` folded to ``0.0`` and every NaN to one NaN
  (so NaN rows match each other, as in pandas' ``duplicated``);
- decimals and other fixed-width values: their bytes in 64-bit words;
- strings and binaries: each value's bytes are read as zero-padded little-endian 64-bit
  words, every word is mixed with its position, the mixed words of a value are summed,
  and the sum is mixed with the byte length;
- dictionaries: the dictionary's values are hashed, then gathered by the indices;
- anything else (lists, structs, ...): a slow path hashing ``repr`` of each value with
  BLAKE2b.

Nulls hash to a fixed constant. Columns are folded in order with ``h = mix(h * K + c)``;
in a row hash, numbers enter as their canonical 64-bit patterns (the fold mixes them), so
the one number whose pattern equals the null constant matches null.
Two different rows collide with probability about 2**-64, so among ``n`` distinct rows
the chance of any false duplicate is about ``n**2 / 2**65`` (3e-6 for ten million rows).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from accuguard.profile import _buffers

U64Array = npt.NDArray[np.uint64]

_NULL_HASH = np.uint64(0x6A09E667F3BCC908)
_SEED = np.uint64(0xBB67AE8584CAA73B)
_FOLD = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_WORD_SALT = np.uint64(0x3C6EF372FE94F82B)
_LEN_SALT = np.uint64(0xA54FF53A5F1D36F1)
_CANONICAL_NAN = np.array([np.nan], dtype=np.float64).view(np.uint64)[0]

__all__ = ["DuplicateCounter", "count_duplicates", "row_hashes"]


def _mix(x: U64Array, tmp: U64Array | None = None) -> U64Array:
    """SplitMix64 finaliser applied in place to ``x`` (uint64 arithmetic wraps); returns ``x``.

    ``tmp`` is scratch space of the same size; passing it avoids an allocation (fresh
    multi-megabyte buffers cost page faults, which dominate these few-nanosecond ops).
    """
    t = np.empty_like(x) if tmp is None else tmp[: x.size]
    np.right_shift(x, np.uint64(30), out=t)
    np.bitwise_xor(x, t, out=x)
    np.multiply(x, _M1, out=x)
    np.right_shift(x, np.uint64(27), out=t)
    np.bitwise_xor(x, t, out=x)
    np.multiply(x, _M2, out=x)
    np.right_shift(x, np.uint64(31), out=t)
    np.bitwise_xor(x, t, out=x)
    return x


_BYTE_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], dtype=np.uint64)


def _few_distinct(array: pa.Array) -> bool:
    return int(pc.count_distinct(array.slice(0, 2048)).as_py()) <= 256


def _hash_binary(array: pa.Array, encode: bool) -> U64Array:
    """Hash variable-length values by their bytes, read as zero-padded little-endian words.

    When ``encode``, long values (> 16 bytes on average) and low-cardinality columns are
    dictionary-encoded first, so each distinct value is hashed once; the hashes are the
    same either way."""
    large = pa.types.is_large_string(array.type) or pa.types.is_large_binary(array.type)
    n = len(array)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    buffers = array.buffers()
    off_type = np.int64 if large else np.int32
    offsets = np.frombuffer(buffers[1], dtype=off_type, count=array.offset + n + 1)
    offsets = offsets[array.offset :].astype(np.int64)
    starts: npt.NDArray[np.int64] = offsets[:-1] - offsets[0]
    lengths: npt.NDArray[np.int64] = np.diff(offsets)
    first, total = int(offsets[0]), int(offsets[-1] - offsets[0])
    if encode and n > 4096 and (total > 16 * n or _few_distinct(array)):
        return _hash_values(pc.dictionary_encode(array))
    padded = np.zeros(total + 8, dtype=np.uint8)
    if total:
        padded[:total] = np.frombuffer(buffers[2], dtype=np.uint8)[first : first + total]
    # window k = the 8 bytes starting at byte k (an unaligned, overlapping uint64 view)
    windows = np.ndarray((total + 1,), dtype="<u8", buffer=padded, strides=(1,))
    words = np.maximum((lengths + 7) // 8, 1)
    if int(words.max()) == 1:
        word_start = np.arange(n, dtype=np.int64)
        at, remaining, position = starts, lengths, np.zeros(n, dtype=np.int64)
    else:
        word_start = np.zeros(n, dtype=np.int64)
        np.cumsum(words[:-1], out=word_start[1:])
        owner = np.zeros(int(words.sum()), dtype=np.int64)  # value index of every word
        owner[word_start[1:]] = 1
        np.cumsum(owner, out=owner)
        position = np.arange(owner.size, dtype=np.int64) - word_start[owner]
        at = starts[owner] + 8 * position
        remaining = lengths[owner] - 8 * position
    values = windows[at].astype(np.uint64) & _BYTE_MASKS[np.clip(remaining, 0, 8)]
    salt = _mix(position.astype(np.uint64) + _WORD_SALT)
    mixed = _mix(np.bitwise_xor(values, salt, out=values), salt)
    summed = mixed if len(mixed) == n else np.add.reduceat(mixed, word_start)
    return _mix(summed ^ (lengths.astype(np.uint64) * _LEN_SALT))


def _hash_fixed_words(array: pa.Array) -> U64Array:
    """Hash fixed-width values (decimals, fixed-size binary...) by their raw bytes."""
    width = array.type.bit_width // 8
    data = np.frombuffer(array.buffers()[1], dtype=np.uint8)
    start = array.offset * width
    raw = data[start : start + len(array) * width].reshape(len(array), width)
    pad = (-width) % 8
    if pad:
        raw = np.concatenate([raw, np.zeros((len(array), pad), dtype=np.uint8)], axis=1)
    words = np.ascontiguousarray(raw).view("<u8").astype(np.uint64, copy=False)
    h = np.full(len(array), _SEED, dtype=np.uint64)
    for k in range(words.shape[1]):
        h = _mix(h * _FOLD + words[:, k])
    return h


def _hash_python(array: pa.Array) -> U64Array:
    out = np.empty(len(array), dtype=np.uint64)
    for i, value in enumerate(array.to_pylist()):
        digest = hashlib.blake2b(repr(value).encode(), digest_size=8).digest()
        out[i] = np.frombuffer(digest, dtype="<u8")[0]
    return out


def _hash_into(
    array: pa.Array, out: U64Array, tmp: U64Array, encode: bool = True, premix: bool = True
) -> None:
    """Write the hash of every entry of ``array`` (nulls included) into ``out``.

    With ``premix=False`` numbers are written as their (canonical) 64-bit patterns,
    unmixed: :func:`row_hashes` mixes every column into the row hash anyway.
    """
    t = array.type
    if pa.types.is_floating(t):
        floats = array if pa.types.is_float64(t) else pc.cast(array, pa.float64())
        as_float = out.view(np.float64)
        with np.errstate(all="ignore"):  # null slots hold arbitrary bits
            np.add(_buffers.values(floats), 0.0, out=as_float)  # -0.0 -> 0.0
        nan = np.isnan(as_float)
        if nan.any():
            out[nan] = _CANONICAL_NAN
        if premix:
            np.bitwise_xor(out, _SEED, out=out)
            _mix(out, tmp)
    elif pa.types.is_boolean(t) or pa.types.is_integer(t) or pa.types.is_temporal(t):
        if pa.types.is_temporal(t):
            array = array.view(pa.int64() if t.bit_width == 64 else pa.int32())
        np.copyto(out.view(np.int64), _buffers.values(array), casting="unsafe")
        if premix:
            np.bitwise_xor(out, _SEED, out=out)
            _mix(out, tmp)
    elif pa.types.is_dictionary(t):
        dictionary = array.dictionary
        dictionary_hash = np.empty(len(dictionary), dtype=np.uint64)
        _hash_into(dictionary, dictionary_hash, np.empty_like(dictionary_hash), encode=False)
        if len(dictionary_hash):
            indices = cast(npt.NDArray[np.intp], _buffers.values(array.indices))  # nulls: clipped
            np.take(dictionary_hash, indices, out=out, mode="clip")  # "raise" is 10x slower
        else:
            out[:] = _NULL_HASH
    else:
        out[:] = _hash_other(array, encode)
    valid = _buffers.validity(array)
    if valid is not None:
        out[~valid] = _NULL_HASH


def _hash_other(array: pa.Array, encode: bool) -> U64Array:
    t = array.type
    if (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
    ):
        return _hash_binary(array, encode)
    if pa.types.is_string_view(t) or pa.types.is_binary_view(t):
        target = pa.large_string() if pa.types.is_string_view(t) else pa.large_binary()
        return _hash_binary(pc.cast(array, target), encode)
    if pa.types.is_null(t):
        return np.full(len(array), _NULL_HASH, dtype=np.uint64)
    if (pa.types.is_decimal(t) or pa.types.is_fixed_size_binary(t)) and t.bit_width % 8 == 0:
        return _hash_fixed_words(array)
    return _hash_python(array)


def _hash_values(array: pa.Array) -> U64Array:
    out = np.empty(len(array), dtype=np.uint64)
    _hash_into(array, out, np.empty_like(out))
    return out


def column_hash(array: pa.Array | pa.ChunkedArray) -> U64Array:
    """One uint64 per entry of an Arrow column; equal values hash equal in any chunk.

    >>> h = column_hash(pa.array(["a", None, "a"]))
    >>> bool(h[0] == h[2]), bool(h[0] == h[1])
    (True, False)
    """
    out = np.empty(len(array), dtype=np.uint64)
    _column_hash_into(array, out, np.empty_like(out))
    return out


def _column_hash_into(
    array: pa.Array | pa.ChunkedArray, out: U64Array, tmp: U64Array, premix: bool = True
) -> None:
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    start = 0
    for chunk in chunks:
        _hash_into(chunk, out[start : start + len(chunk)], tmp, premix=premix)
        start += len(chunk)


def row_hashes(
    batch: pa.RecordBatch | pa.Table,
    columns: Sequence[str] | None = None,
) -> U64Array:
    """A 64-bit hash per row over ``columns`` (default: all), stable across chunks.

    Equal rows (same values in the same columns, in the same order; NaN equal to NaN,
    null equal to null) always hash equal; different rows collide with probability about
    2**-64 (see the module docstring).

    >>> t = pa.table({"a": [1, 2, 1], "b": ["x", "y", "x"]})
    >>> h = row_hashes(t, ["a", "b"])
    >>> bool(h[0] == h[2]), bool(h[0] == h[1])
    (True, False)
    """
    names = list(batch.schema.names) if columns is None else list(columns)
    missing = [c for c in names if c not in batch.schema.names]
    if missing:
        raise ValueError(f"columns {missing} not in the batch; it has {batch.schema.names}")
    h = np.full(batch.num_rows, _SEED, dtype=np.uint64)
    part, tmp = np.empty_like(h), np.empty_like(h)
    for name in names:
        # h = mix(h * K + c) is a bijection of c for a given h, so numbers need no mixing
        # of their own first (half the work for numeric columns)
        _column_hash_into(batch.column(name), part, tmp, premix=False)
        np.multiply(h, _FOLD, out=h)
        np.add(h, part, out=h)
        _mix(h, tmp)
    return h


def count_duplicates(hashes: U64Array) -> int:
    """Number of entries equal to an earlier one: ``n - distinct`` (one sort, no hash table).

    >>> count_duplicates(np.array([3, 1, 3, 3], dtype=np.uint64))
    2
    """
    if hashes.size == 0:
        return 0
    s = np.sort(hashes)
    return int(s.size - 1 - np.count_nonzero(s[1:] != s[:-1]))


@dataclass(frozen=True, eq=False)
class DuplicateCounter:
    """Mergeable duplicate-row counter: keeps the row hashes (8 bytes per row) of every chunk.

    >>> t = pa.table({"a": [1, 2, 1]})
    >>> c = DuplicateCounter.from_batch(t) + DuplicateCounter.from_batch(t)
    >>> (c.rows, c.duplicates, round(c.duplicate_share, 4))
    (6, 4, 0.6667)
    """

    hashes: tuple[U64Array, ...] = ()
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_batch(
        cls, batch: pa.RecordBatch | pa.Table, columns: Sequence[str] | None = None
    ) -> DuplicateCounter:
        """Hash the rows of one chunk (see :func:`row_hashes`)."""
        return cls((row_hashes(batch, columns),))

    @classmethod
    def from_hashes(cls, hashes: U64Array) -> DuplicateCounter:
        """Wrap precomputed row hashes."""
        return cls((np.asarray(hashes, dtype=np.uint64),))

    def __add__(self, other: DuplicateCounter) -> DuplicateCounter:
        if not isinstance(other, DuplicateCounter):
            return NotImplemented
        return DuplicateCounter(self.hashes + other.hashes)

    @property
    def rows(self) -> int:
        """Number of rows seen."""
        return sum(int(h.size) for h in self.hashes)

    @property
    def duplicates(self) -> int:
        """Rows equal to an earlier row (pandas ``duplicated().sum()``); computed once."""
        cached: int | None = self._cache.get("duplicates")
        if cached is None:
            all_hashes = np.concatenate(self.hashes) if self.hashes else np.zeros(0, np.uint64)
            cached = count_duplicates(all_hashes)
            self._cache["duplicates"] = cached
        return cached

    @property
    def duplicate_share(self) -> float:
        """``duplicates / rows``; NaN when no rows were seen."""
        return self.duplicates / self.rows if self.rows else float("nan")
