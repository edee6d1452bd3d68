"""Binary codes as integer bucket keys, and Hamming distances between them.

A code of ``n_bits`` bits is stored either as a boolean row (what hashers
return) or as one unsigned 64-bit integer, the *bucket key*: the bits read
as a big-endian number, so bit 0 is the most significant. This is the
bucket id of MISSION.md's hash table. Explained in ``notebooks/02_lsh.ipynb``.
"""

from __future__ import annotations

import numpy as np

MAX_BITS = 64


def check_n_bits(n_bits) -> int:
    """Return ``n_bits`` as an int, or raise a one-line ``ValueError``."""
    if isinstance(n_bits, bool) or not isinstance(n_bits, int | np.integer):
        raise ValueError(f"n_bits must be an integer between 1 and {MAX_BITS}, got {n_bits!r}")
    if not 1 <= n_bits <= MAX_BITS:
        raise ValueError(f"n_bits must be between 1 and {MAX_BITS}, got {n_bits}")
    return int(n_bits)


def _check_bits(bits) -> np.ndarray:
    bits = np.asarray(bits)
    if bits.ndim != 2:
        raise ValueError(
            f"bits must be a 2-D array of shape (n_codes, n_bits), got shape {bits.shape}"
        )
    check_n_bits(bits.shape[1])
    if bits.dtype != bool:
        if not np.isin(bits, (0, 1)).all():
            raise ValueError("bits must hold only 0/1 or True/False values")
        bits = bits.astype(bool)
    return bits


def bits_to_keys(bits) -> np.ndarray:
    """Read each row of bits as one big-endian unsigned integer.

    Parameters
    ----------
    bits : array-like of shape (n_codes, n_bits), bool or 0/1
        One code per row, ``1 <= n_bits <= 64``.

    Returns
    -------
    keys : ndarray of shape (n_codes,), dtype uint64

    Examples
    --------
    >>> bits_to_keys([[1, 0, 1], [0, 0, 1]])
    array([5, 1], dtype=uint64)
    """
    bits = _check_bits(bits)
    n_bits = bits.shape[1]
    # Pad on the left to a whole number of bytes, then let packbits do the work:
    # one vectorised pass instead of a Python loop over bits.
    pad = (-n_bits) % 8
    if pad:
        bits = np.concatenate([np.zeros((bits.shape[0], pad), dtype=bool), bits], axis=1)
    packed = np.packbits(bits, axis=1)  # big-endian bytes
    full = np.zeros((bits.shape[0], 8), dtype=np.uint8)
    full[:, 8 - packed.shape[1] :] = packed
    return full.view(">u8").ravel().astype(np.uint64)


def keys_to_bits(keys, n_bits: int) -> np.ndarray:
    """Inverse of :func:`bits_to_keys`.

    Examples
    --------
    >>> keys_to_bits([5, 1], n_bits=3).astype(int)
    array([[1, 0, 1],
           [0, 0, 1]])
    """
    n_bits = check_n_bits(n_bits)
    keys = np.asarray(keys)
    if keys.ndim != 1:
        raise ValueError(f"keys must be a 1-D array, got shape {keys.shape}")
    if keys.size and keys.dtype.kind not in "ui":
        raise ValueError(f"keys must be integers, got dtype {keys.dtype}")
    keys = keys.astype(np.uint64)
    if n_bits < 64 and keys.size and int(keys.max()) >> n_bits:
        raise ValueError(f"a key does not fit in {n_bits} bits; pass a larger n_bits")
    as_bytes = keys.astype(">u8").view(np.uint8).reshape(-1, 8)
    return np.unpackbits(as_bytes, axis=1)[:, 64 - n_bits :].astype(bool)


def hamming_distance_matrix(query_keys, keys) -> np.ndarray:
    """All pairwise Hamming distances between two sets of keys.

    Returns an ``(n_queries, n_keys)`` uint8 array. This is the exhaustive
    oracle that the index is tested against.
    """
    q = np.asarray(query_keys, dtype=np.uint64)[:, None]
    k = np.asarray(keys, dtype=np.uint64)[None, :]
    return np.bitwise_count(q ^ k)
