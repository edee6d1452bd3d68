"""The naive per-query loop that hashing tutorials typically use: the baseline.

A faithful re-creation, deliberately not optimised:

- the hash table is a ``dict`` mapping a bucket id (the code's bits read as a
  big-endian integer) to a Python list of database row numbers;
- for each query and radius, ``itertools.combinations`` over the bit
  positions builds every bucket id within the radius, each is looked up and
  its items appended to a candidate list;
- the candidates are re-ranked in a pandas DataFrame holding their cosine
  distances to the query (``scipy.spatial.distance.cdist`` on the candidate
  rows), sorted, and the top 10 scored for precision@10.

Ties in cosine distance are broken by the smaller row number, as in
:class:`tutorial_lib.evaluation.CosineReranker`, so both give the same top 10.
"""

from __future__ import annotations

import time
from collections import defaultdict
from itertools import combinations

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist


def build_table(database_bits) -> dict[int, list[int]]:
    """Bucket id -> list of database rows, with a Python loop over the codes."""
    table = defaultdict(list)
    for row, code in enumerate(np.asarray(database_bits).tolist()):
        bucket = 0
        for bit in code:
            bucket = (bucket << 1) | int(bit)
        table[bucket].append(row)
    return dict(table)


def bucket_id(code) -> int:
    bucket = 0
    for bit in code:
        bucket = (bucket << 1) | int(bit)
    return bucket


def candidates_within(table, query_bucket: int, n_bits: int, radius: int) -> list[int]:
    """Rows of every bucket whose id differs from ``query_bucket`` in at most ``radius`` bits."""
    candidates = []
    for n_flips in range(radius + 1):
        for positions in combinations(range(n_bits), n_flips):
            probe = query_bucket
            for position in positions:
                probe ^= 1 << (n_bits - 1 - position)
            candidates.extend(table.get(probe, []))
    return candidates


def rerank_top_k(X_database, x_query, candidates, k: int = 10) -> pd.DataFrame:
    """Top ``k`` candidates by cosine distance, in a DataFrame (ties by row number)."""
    frame = pd.DataFrame({"row": candidates})
    frame["distance"] = cdist(x_query[None, :], X_database[candidates], metric="cosine")[0]
    return frame.sort_values(["distance", "row"]).head(k)


def query(table, X_database, y_database, x_query, y_query, query_bits, radius, k=10):
    """One query at one radius: ``(precision@k, n_candidates, top ids)``."""
    n_bits = len(query_bits)
    candidates = candidates_within(table, bucket_id(query_bits), n_bits, radius)
    if not candidates:
        return 0.0, 0, []
    top = rerank_top_k(X_database, x_query, candidates, k)
    hits = int((y_database[top["row"].to_numpy()] == y_query).sum())
    return hits / k, len(candidates), top["row"].tolist()


def radius_sweep(table, X_database, y_database, X_query, y_query, query_bits, max_radius=10, k=10):
    """The tutorial's sweep: for each radius, for each query, probe + re-rank + score.

    Returns a DataFrame with one row per (radius, query): ``radius``, ``query``,
    ``precision``, ``candidates``, ``seconds`` and the ``top`` ids.
    """
    rows = []
    for radius in range(max_radius + 1):
        for i in range(len(X_query)):
            start = time.perf_counter()
            precision, n_cand, top = query(
                table, X_database, y_database, X_query[i], y_query[i], query_bits[i], radius, k
            )
            seconds = time.perf_counter() - start
            rows.append(
                {
                    "radius": radius,
                    "query": i,
                    "precision": precision,
                    "candidates": n_cand,
                    "seconds": seconds,
                    "top": top,
                }
            )
    return pd.DataFrame(rows)
