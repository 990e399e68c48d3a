"""Zero-copy numpy views of Arrow buffers.

``pyarrow.Array.to_numpy`` (and ``fill_null`` with a Python scalar) import pandas the
first time they run, which costs one to three seconds in a fresh process; profiles only
need the raw buffers, so they read them directly. Slots under a null hold unspecified
values: callers mask them with :func:`validity`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

BoolArray = npt.NDArray[np.bool_]


def _bits(buffer: pa.Buffer | None, offset: int, length: int) -> BoolArray:
    if buffer is None or length == 0:
        return np.zeros(length, dtype=bool)
    raw = np.frombuffer(buffer, dtype=np.uint8)
    first, last = offset // 8, (offset + length + 7) // 8
    bits = np.unpackbits(raw[first:last], bitorder="little")
    start = offset - 8 * first
    out: BoolArray = bits[start : start + length].view(bool)
    return out


def validity(array: pa.Array) -> BoolArray | None:
    """True where ``array`` is not null; None when it has no nulls.

    >>> validity(pa.array([1, None, 3])).tolist()
    [True, False, True]
    """
    if array.null_count == 0:
        return None
    if pa.types.is_null(array.type):
        return np.zeros(len(array), dtype=bool)
    return _bits(array.buffers()[0], array.offset, len(array))


def values(array: pa.Array) -> npt.NDArray[np.generic]:
    """The data buffer of a fixed-width primitive array (integers, floats, booleans) as numpy.

    Booleans are unpacked to ``bool``; the rest is a read-only zero-copy view.

    >>> values(pa.array([1.5, 2.5])).tolist()
    [1.5, 2.5]
    >>> values(pa.array([True, False])).tolist()
    [True, False]
    """
    t = array.type
    n = len(array)
    if pa.types.is_boolean(t):
        return _bits(array.buffers()[1], array.offset, n)
    if pa.types.is_floating(t):
        dtype = np.dtype(f"<f{t.bit_width // 8}")
    elif pa.types.is_signed_integer(t):
        dtype = np.dtype(f"<i{t.bit_width // 8}")
    elif pa.types.is_unsigned_integer(t):
        dtype = np.dtype(f"<u{t.bit_width // 8}")
    else:
        raise ValueError(f"values() needs an integer, float or boolean array; got {t}")
    buffer = array.buffers()[1]
    if buffer is None or n == 0:
        return np.zeros(n, dtype=dtype)
    out: npt.NDArray[np.generic] = np.frombuffer(buffer, dtype=dtype, count=array.offset + n)
    return out[array.offset :]
