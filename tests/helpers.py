"""Seeded test data shared by the test modules (one place, one seed per use)."""

from __future__ import annotations

import numpy as np

from tutorial_lib.hashing import bits_to_keys, hamming_distance_matrix


def random_codes(n: int, n_bits: int, seed: int = 0, n_clusters: int | None = None) -> np.ndarray:
    """Random bool codes; with ``n_clusters`` they bunch around a few centres.

    Clustered codes give large buckets and many ties, the hard cases for an index.
    """
    rng = np.random.default_rng(seed)
    if n_clusters is None:
        return rng.random((n, n_bits)) < 0.5
    centres = rng.random((n_clusters, n_bits)) < 0.5
    flips = rng.random((n, n_bits)) < 0.08
    return centres[rng.integers(0, n_clusters, n)] ^ flips


def gaussian_classes(n: int, n_features: int, n_classes: int = 5, seed: int = 0, spread=1.0):
    """Features drawn around one random centre per class; returns X, y."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, n_features))
    y = rng.integers(0, n_classes, n)
    return centres[y] + spread * rng.standard_normal((n, n_features)), y


def oracle_range(query_bits, database_bits, radius):
    """Exhaustive range search: per query, (ids, distances) ordered by (distance, id)."""
    dist = hamming_distance_matrix(bits_to_keys(query_bits), bits_to_keys(database_bits))
    out = []
    for row in dist:
        ids = np.flatnonzero(row <= radius)
        ids = ids[np.lexsort((ids, row[ids]))]
        out.append((ids, row[ids].astype(np.int64)))
    return out


def oracle_knn(query_bits, database_bits, k):
    """Exhaustive Hamming k-NN, ties by smaller id: (distances, ids)."""
    dist = hamming_distance_matrix(bits_to_keys(query_bits), bits_to_keys(database_bits))
    order = np.argsort(dist, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(dist, order, axis=1).astype(np.int64), order


def oracle_cosine_top_k(X_database, X_query, candidates, k):
    """Literal cosine re-rank of one query's candidates with Python loops (ties by id)."""
    scored = []
    for i in candidates:
        x = X_database[i]
        nx, nq = np.linalg.norm(x), np.linalg.norm(X_query)
        sim = float(x @ X_query / (nx * nq)) if nx > 0 and nq > 0 else 0.0
        scored.append((1.0 - sim, int(i)))
    scored.sort()
    return [i for _, i in scored[:k]]
