"""Retrieval measures: precision@k after cosine re-ranking, radius sweeps, mAP.

Relevance is semantic: a retrieved item is relevant when it has the query's
class label (MISSION.md). Explained in ``notebooks/04_hamming_search.ipynb``.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from .hashing.codes import bits_to_keys, hamming_distance_matrix
from .index import HashIndex

#: Above this share of the database per query, re-ranking multiplies the
#: queries by the whole database (one BLAS call) instead of gathering rows.
DENSE_RERANK_SHARE = 0.05
DENSE_RERANK_SHARE_SINGLE = 0.2

#: A batch radius sweep switches to all-pairs distances and scores once the
#: mean candidate count passes this share of the database (see _DenseSweep).
DENSE_SWEEP_SHARE = 0.02

#: ... as long as its matrices (5 bytes per query and item) stay this small.
DENSE_SWEEP_MAX_ELEMENTS = 1 << 26

#: Below this many candidates a single query's rows are gathered unsorted.
SORT_GATHER_MIN = 256

#: Elements of the queries x database score matrix computed at once.
BLOCK_ELEMENTS = 1 << 23

#: A query with more candidates than this is first screened in a small
#: projection (see :class:`CosineReranker`); fewer are cheaper to score directly.
PRUNE_MIN_CANDIDATES = 100

#: Leading principal directions kept by the screening projection (128 bytes
#: per item in float32 against 2 KB for a 512-d row). Measured on the
#: benchmark data at radius 4: 32 directions leave ~5% of the candidates.
PRUNE_DIMS = 32

#: Added to twice the float32 error before trusting a float32 order (float64
#: rounding of the exact scores is ~1e-16).
SEPARATION_SLACK = 1e-12


# --------------------------------------------------------------------------- basic measures
def precision_at_k(retrieved_labels, query_label, k: int = 10) -> float:
    """Share of the top ``k`` retrieved items that have the query's label.

    Always divides by ``k``: fewer than ``k`` results count the missing ones
    as misses, and no results give 0 (MISSION.md).

    Examples
    --------
    >>> precision_at_k([3, 3, 1], query_label=3, k=10)
    0.2
    >>> precision_at_k([], query_label=3, k=10)
    0.0
    """
    _check_k(k)
    retrieved = np.asarray(retrieved_labels)[:k]
    return float(np.count_nonzero(retrieved == query_label)) / k


def _check_k(k):
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")


def _unit_vector(q):
    """``q`` scaled to unit length (zero stays zero), for one query: fewer calls than unit_rows."""
    norm = float(np.sqrt(q @ q))
    return q / norm if norm > 0 else np.zeros_like(q)


def unit_rows(X) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), so a dot product is a cosine."""
    X = np.asarray(X, dtype=np.float64)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return np.divide(X, norms, out=np.zeros_like(X), where=norms > 0)


# --------------------------------------------------------------------------- re-ranking
class CosineReranker:
    """Re-rank candidate ids by cosine distance to the query.

    Parameters
    ----------
    X_database : array-like of shape (n_database, n_features)
        Database vectors in the original feature space.

    Notes
    -----
    Ties in cosine distance are broken by the smaller id, so results are
    deterministic and equal to an exhaustive search when every item is a
    candidate. A zero vector has cosine similarity 0 with everything.

    Re-ranking reads every candidate's vector, so it is memory-bound. A
    float32 copy of the unit rows halves that traffic: the similarities are
    first computed in float32, which is off by at most :attr:`tolerance`,
    and only the candidates within ``2 * tolerance`` of the float32 k-th best
    (usually just the k) are scored again in float64. Any true top-k item
    passes that filter, so the result is the same as a float64 re-rank.
    """

    def __init__(self, X_database):
        self.unit_database = unit_rows(X_database)
        self._unit32 = self.unit_database.astype(np.float32)
        n_features = self.unit_database.shape[1]
        # Rounding error bound of a float32 dot product of unit vectors,
        # (n + 2) * 2**-24 (inputs rounded once, n accumulations), doubled
        # for safety; float64 errors are a billion times smaller.
        self.tolerance = 2 * (n_features + 2) * 2.0**-24
        self._screen = None
        if len(self.unit_database) > PRUNE_MIN_CANDIDATES and n_features > 2 * PRUNE_DIMS:
            self._screen = _Screen(self.unit_database, PRUNE_DIMS)

    def top_k(self, X_query, lims, ids, k: int = 10):
        """The ``k`` candidates nearest in cosine distance, per query.

        Parameters
        ----------
        X_query : array-like of shape (n_queries, n_features)
        lims, ids : candidates as returned by :meth:`HashIndex.range_search`.
        k : int

        Returns
        -------
        top : ndarray of shape (n_queries, k), int64, padded with ``-1``
        """
        _check_k(k)
        X_query = np.atleast_2d(np.asarray(X_query, dtype=np.float64))
        lims = np.asarray(lims)
        ids = np.asarray(ids)
        if len(X_query) == 1:
            # One query (what a user waits for): no per-batch set-up at all.
            top = np.full((1, k), -1, dtype=np.int64)
            cand = ids[lims[0] : lims[1]]
            if len(cand):
                top_ids = self._rerank_one(_unit_vector(X_query[0]), cand, k)
                top[0, : len(top_ids)] = top_ids
            return top
        Q = unit_rows(X_query)
        top = np.full((len(Q), k), -1, dtype=np.int64)
        Q32 = Q.astype(np.float32)
        counts = np.diff(lims)
        n_db = len(self._unit32)
        # Many candidates: one matrix product over the whole database is cheaper
        # than gathering rows (BLAS-3 versus a gather). Few: gather.
        dense = len(ids) > _dense_share(len(Q)) * n_db * len(Q)
        rows = max(1, BLOCK_ELEMENTS // max(n_db, 1)) if dense else len(Q)
        for start in range(0, len(Q), rows):
            scores = Q32[start : start + rows] @ self._unit32.T if dense else None
            for i in np.flatnonzero(counts[start : start + rows]) + start:
                cand = ids[lims[i] : lims[i + 1]]
                if dense:
                    approx = scores[i - start, cand]
                    top_ids = self._refine(approx, cand, Q[i], k)
                else:
                    top_ids = self._rerank_one(Q[i], cand, k, Q32[i])
                top[i, : len(top_ids)] = top_ids
        return top

    def _rerank_one(self, q, cand, k, q32=None):
        """Top ``k`` of one query's candidates (``q`` a unit row), ties by id.

        Many candidates are first screened by :class:`_Screen` (exact
        bounds). The rest get the float32 pass; when its top ``k + 1`` scores
        are separated by more than twice the float32 error, that order is
        the exact one and no float64 row is read. Otherwise the near-ties are
        re-checked in float64 as described in the class notes.
        """
        if self._screen is not None and len(cand) > PRUNE_MIN_CANDIDATES:
            cand = self._screen.prune(q, cand, k, self.tolerance)
        if q32 is None:
            q32 = q.astype(np.float32)
        # Ascending ids: a large gather reads memory in order (measured 3x
        # faster than bucket order); for a few rows the sort costs more. einsum runs in this thread: a BLAS
        # matrix-vector product this small mostly waits for its worker
        # threads on a busy machine.
        if len(cand) > SORT_GATHER_MIN:
            cand = np.sort(cand)
        approx = np.einsum("ij,j->i", self._unit32[cand], q32)
        top = _top_if_separated(approx, cand, k, 2 * self.tolerance + SEPARATION_SLACK)
        if top is not None:
            return top
        return self._refine(approx, cand, q, k)

    def _refine(self, approx, cand, q, k):
        """Exact top ``k`` from float32 scores ``approx`` of ``cand``, ties by id.

        Only the candidates within ``2 * tolerance`` of the float32 k-th best
        can be in the exact top k; they are scored again in float64.
        """
        near = _near_top(approx, cand, k, 2 * self.tolerance)
        return _best_k(_exact_scores(self.unit_database, near, q), near, k)


def _exact_scores(unit_database, rows, q):
    """float64 cosines of the given rows with the unit query ``q``.

    einsum, not ``@``: BLAS matrix-vector kernels round a row differently
    depending on its position in the block (measured: two identical rows
    scored 1e-17 apart), which would break exact ties by id.
    """
    return np.einsum("ij,j->i", unit_database[rows], q)


def _top_if_separated(approx, ids, k, margin):
    """Ids of the top ``k`` approximate scores if their order is certain, else None.

    Each approximate score is within ``margin / 2`` of the exact one, so two
    scores more than ``margin`` apart are in the exact order. If the best
    ``min(k + 1, n)`` scores are pairwise that far apart (adjacent gaps
    suffice once sorted), the exact top ``k`` and its order are known.
    """
    n = len(approx)
    top = n - k - 1
    if n <= 8 * (k + 1):  # small: one full sort costs less than partition + sort
        head = np.argsort(approx)[::-1][: k + 1]
    else:
        head = np.argpartition(approx, top)[top:]
        head = head[np.argsort(approx[head])[::-1]]
    if n > 1 and not (approx[head[:-1]] - approx[head[1:]] > margin).all():
        return None
    return ids[head[:k]]


class _Screen:
    """Exact candidate screening in the leading principal directions.

    With ``P`` the top ``d`` eigenvectors of the database's second-moment
    matrix (orthonormal columns), every cosine splits as
    ``<q, x> = <P'q, P'x> + <r_q, r_x>`` where ``r`` is the residual off the
    subspace, and ``|<r_q, r_x>| <= |r_q| |r_x|`` (Cauchy-Schwarz). So from
    ``d`` float32 numbers and one residual norm per item, each candidate's
    similarity lies in ``[a - e, a + e]``. The k-th largest lower bound is a
    floor for the k-th best similarity; a candidate whose upper bound is
    below it cannot be in the top k (nor tied with it) and is dropped. The
    bounds include the float32 rounding error of the projected dot product
    (``tolerance``) and of the bound arithmetic (:attr:`SLACK`), and the
    stored residual norms are rounded up, so the result is exactly the
    unscreened one.
    """

    #: float32 arithmetic on the bounds (values <= 2, a handful of roundings
    #: of 2**-24 relative each) and float64 rounding in the projection.
    SLACK = 1e-6

    #: Above this share of the database, the projected scores of *all* items
    #: are computed in one streaming pass and then gathered (a random gather
    #: of 128-byte rows costs more per item than streaming them).
    DENSE_SHARE = 0.15

    def __init__(self, unit_database, n_dims):
        U = unit_database
        _, vectors = np.linalg.eigh(U.T @ U)
        self.P = np.ascontiguousarray(vectors[:, ::-1][:, :n_dims])
        self.proj32 = np.empty((len(U), n_dims), dtype=np.float32)
        residual = np.empty(len(U))
        block = max(1, BLOCK_ELEMENTS // max(U.shape[1], 1))
        for start in range(0, len(U), block):
            X = U[start : start + block]
            proj = X @ self.P
            self.proj32[start : start + block] = proj
            residual[start : start + block] = np.linalg.norm(X - proj @ self.P.T, axis=1)
        # Rounded up, so the bound stays a bound.
        self.residual32 = np.nextafter(residual.astype(np.float32), np.float32(np.inf))

    def prune(self, q, cand, k, tolerance):
        """The candidates that may be in ``q``'s top ``k`` (order kept)."""
        if len(cand) <= k:
            return cand
        pq = q @ self.P
        rq = float(np.linalg.norm(q - self.P @ pq))
        pq32 = pq.astype(np.float32)
        # einsum runs in this thread (see CosineReranker._rerank_one).
        if len(cand) > self.DENSE_SHARE * len(self.proj32):
            approx = np.einsum("ij,j->i", self.proj32, pq32)[cand]
        else:
            approx = np.einsum("ij,j->i", self.proj32[cand], pq32)
        err = self.residual32[cand] * np.float32(rq)
        err += np.float32(tolerance + self.SLACK)
        lower = approx - err
        n = len(cand) - k
        floor = np.partition(lower, n)[n]
        approx += err  # now the upper bounds
        return cand[approx >= floor]


def _dense_share(n_queries):
    """Candidate share of the database above which a dense product is cheaper.

    One query: a gathered row costs about four times a row streamed through a
    matrix-vector product (benchmarks/RESULTS.md: 24,000 gathered rows took
    17 ms, a pass over all 58,682 rows 4 ms), so gather below a fifth. Many
    queries: the matrix-matrix product reads the database once for a whole
    block of queries, so it wins much earlier (measured on the benchmark
    machine: about 3,000 gathered rows cost as much as one query's share of the
    float32 matrix product over 58,682 x 512).
    """
    return DENSE_RERANK_SHARE_SINGLE if n_queries == 1 else DENSE_RERANK_SHARE


def _near_top(sims, ids, k, margin):
    """Ids whose approximate similarity is within ``margin`` of the k-th best."""
    if len(sims) <= k:
        return ids
    kth = np.partition(sims, len(sims) - k)[len(sims) - k]
    return ids[sims >= kth - margin]


def _best_k(sims, ids, k):
    """Ids of the k largest similarities, ties by smaller id."""
    if len(sims) > k:
        # Keep everything tied with the k-th best so the tie-break by id is exact.
        kth = np.partition(sims, len(sims) - k)[len(sims) - k]
        keep = sims >= kth
        sims, ids = sims[keep], ids[keep]
    order = np.lexsort((ids, -sims))[:k]
    return ids[order]


def brute_force_top_k(X_database, X_query, k: int = 10) -> np.ndarray:
    """Exact cosine top-``k`` over the whole database (ties by id): the oracle."""
    X_query = np.atleast_2d(X_query)
    n_db = len(X_database)
    lims = np.arange(len(X_query) + 1) * n_db
    ids = np.tile(np.arange(n_db), len(X_query))
    return CosineReranker(X_database).top_k(X_query, lims, ids, k)


def label_hits(top_ids, y_database, y_query) -> np.ndarray:
    """Boolean (n_queries, k): result j of query i has the query's label (padding: False)."""
    top_ids = np.asarray(top_ids)
    y_database = np.asarray(y_database)
    labels = np.where(top_ids >= 0, y_database[np.maximum(top_ids, 0)], -1)
    return (labels == np.asarray(y_query)[:, None]) & (top_ids >= 0)


# --------------------------------------------------------------------------- radius sweep
def radius_sweep(
    index: HashIndex,
    X_database,
    y_database,
    X_query,
    y_query,
    query_bits,
    max_radius: int = 10,
    k: int = 10,
    timing: str = "batch",
    reranker: CosineReranker | None = None,
) -> pd.DataFrame:
    """Hamming radius (multi-probe) search at every radius from 0 to ``max_radius``.

    At radius ``r`` each query's candidates are the items within ``r`` bits
    (:meth:`HashIndex.range_search`), re-ranked by cosine distance to the query
    in the original feature space; the top ``k`` are scored.

    Parameters
    ----------
    index : HashIndex
        Holds the database codes, in the row order of ``X_database``.
    X_database, y_database : database vectors and labels.
    X_query, y_query : query vectors and labels.
    query_bits : array-like of shape (n_queries, n_bits)
        The queries' codes from the same hasher.
    max_radius : int, default=10
        Clipped to the code length.
    k : int, default=10
    timing : {'batch', 'single'}, default='batch'
        'batch' times all queries of a radius in one call (probe + re-rank)
        and reports the time per query; once the candidates fill a large share
        of the database, the remaining radii share one all-pairs distance and
        score matrix (same results; its build time is counted in every
        radius it serves); 'single' times each query alone, as a
        user typing one query would see it (slower overall).
    reranker : CosineReranker, optional
        Reuse one across sweeps over the same database.

    Returns
    -------
    pandas.DataFrame
        One row per radius: ``radius``, ``precision_at_{k}`` (mean),
        ``nn_accuracy`` (share of queries whose top re-ranked item has the
        query's class), ``mean_candidates``, ``mean_query_ms``.
    """
    if timing not in ("batch", "single"):
        raise ValueError(f"timing must be 'batch' or 'single', got {timing!r}")
    if isinstance(max_radius, bool) or not isinstance(max_radius, int | np.integer):
        raise ValueError(f"max_radius must be a non-negative integer, got {max_radius!r}")
    if max_radius < 0:
        raise ValueError(f"max_radius must be >= 0, got {max_radius}")
    _check_k(k)
    y_query = np.asarray(y_query)
    if len(X_database) != index.ntotal:
        raise ValueError(
            f"the index holds {index.ntotal} codes but X_database has {len(X_database)} rows"
        )
    reranker = reranker or CosineReranker(X_database)
    X_query = np.asarray(X_query, dtype=np.float64)
    query_keys = bits_to_keys(query_bits)
    rows = []
    batch = _BatchSweep(index, reranker, X_query, query_keys, k)
    for radius in range(min(max_radius, index.n_bits) + 1):
        if timing == "batch":
            top, counts, seconds = batch.run(radius)
        else:
            top, counts, seconds = _single_queries(index, reranker, X_query, query_keys, radius, k)
        hits = label_hits(top, y_database, y_query)
        rows.append(
            {
                "radius": radius,
                f"precision_at_{k}": float(hits.sum(axis=1).mean() / k),
                "nn_accuracy": float(hits[:, 0].mean()),
                "mean_candidates": float(counts.mean()),
                "mean_query_ms": float(seconds.mean() * 1e3),
            }
        )
    return pd.DataFrame(rows)


class _BatchSweep:
    """All queries of one radius per call, timed as a whole.

    Small radii take the index path (range search, then re-rank). Once the
    candidates are a large share of the database, producing the candidate
    lists costs more than scoring everything, so the remaining radii switch to
    one all-pairs distance and score matrix (:class:`_DenseSweep`). Its build
    time is added to *every* radius it serves, so each reported time is what
    answering that radius from scratch costs on this path.
    """

    def __init__(self, index, reranker, X_query, query_keys, k):
        self.index, self.reranker, self.k = index, reranker, k
        self.X_query, self.query_keys = X_query, query_keys
        self.dense = None
        self.use_dense = False

    def run(self, radius):
        n_queries = len(self.query_keys)
        if self.use_dense:
            if self.dense is None:
                self.dense = _DenseSweep(self.index, self.reranker, self.X_query, self.query_keys)
            start = time.perf_counter()
            top, counts = self.dense.top_k(radius, self.k)
            seconds = time.perf_counter() - start + self.dense.build_seconds
        else:
            # Untimed warm-up: the flip masks for a radius are built once and
            # cached, a set-up cost like building the index, not a query cost.
            self.index.range_search_keys(self.query_keys[:1], radius, sort=False)
            start = time.perf_counter()
            lims, _, ids = self.index.range_search_keys(self.query_keys, radius, sort=False)
            top = self.reranker.top_k(self.X_query, lims, ids, self.k)
            seconds = time.perf_counter() - start
            counts = np.diff(lims)
        # Radii only grow, so once the dense view pays it serves every later radius.
        self.use_dense = self.use_dense or (
            counts.mean() > DENSE_SWEEP_SHARE * self.index.ntotal
            and n_queries * self.index.ntotal <= DENSE_SWEEP_MAX_ELEMENTS
        )
        return top, counts, np.full(n_queries, seconds / max(n_queries, 1))


class _DenseSweep:
    """Every (query, item) Hamming distance and float32 score, computed once.

    At large radii most of the database is a candidate, and producing the
    candidate lists (millions of ids) costs more than scoring them. Here one
    distance matrix and one matrix product serve every remaining radius; the
    top k at radius r are the best scores among items with distance <= r,
    re-checked in float64 exactly like :meth:`CosineReranker.top_k`.
    """

    def __init__(self, index, reranker, X_query, query_keys):
        start = time.perf_counter()
        self.reranker = reranker
        self.Q = unit_rows(X_query)
        self.distances = hamming_distance_matrix(query_keys, index.keys)
        self.scores = self.Q.astype(np.float32) @ reranker._unit32.T
        self.build_seconds = time.perf_counter() - start

    def top_k(self, radius, k):
        nq = len(self.Q)
        top = np.full((nq, k), -1, dtype=np.int64)
        counts = np.zeros(nq, dtype=np.int64)
        for i in range(nq):
            cand = np.flatnonzero(self.distances[i] <= radius)
            counts[i] = len(cand)
            if len(cand):
                top_ids = self.reranker._refine(self.scores[i, cand], cand, self.Q[i], k)
                top[i, : len(top_ids)] = top_ids
        return top, counts


def _single_queries(index, reranker, X_query, query_keys, radius, k):
    top = np.full((len(query_keys), k), -1, dtype=np.int64)
    counts = np.zeros(len(query_keys), dtype=np.int64)
    seconds = np.zeros(len(query_keys))
    index.range_search_keys(query_keys[:1], radius, sort=False)  # untimed: builds the masks
    for i in range(len(query_keys)):
        start = time.perf_counter()
        lims, _, ids = index.range_search_keys(query_keys[i : i + 1], radius, sort=False)
        top[i] = reranker.top_k(X_query[i : i + 1], lims, ids, k)[0]
        seconds[i] = time.perf_counter() - start
        counts[i] = len(ids)
    return top, counts, seconds


# --------------------------------------------------------------------------- code-only measures
def mean_average_precision(database_bits, y_database, query_bits, y_query) -> float:
    """mAP under Hamming ranking over the whole database.

    Each query ranks every database item by Hamming distance, ties broken by
    the smaller id (as :meth:`HashIndex.search`). Average precision is the
    mean of the precision at the rank of each relevant item; a query with no
    relevant item in the database scores 0.

    Examples
    --------
    >>> db = [[0, 0], [1, 1], [0, 1]]
    >>> round(mean_average_precision(db, [1, 0, 1], [[0, 0]], [1]), 4)  # ranks 1 and 2 relevant
    1.0
    """
    y_database = np.asarray(y_database)
    y_query = np.asarray(y_query)
    db_keys = bits_to_keys(database_bits)
    q_keys = bits_to_keys(query_bits)
    ranks = np.arange(1, len(db_keys) + 1)
    ap = np.zeros(len(q_keys))
    block = max(1, BLOCK_ELEMENTS // max(len(db_keys), 1))
    for start in range(0, len(q_keys), block):
        dist = hamming_distance_matrix(q_keys[start : start + block], db_keys)
        order = np.argsort(dist, axis=1, kind="stable")  # stable: ties by id
        rel = y_database[order] == y_query[start : start + block, None]
        n_rel = rel.sum(axis=1)
        precision = np.cumsum(rel, axis=1) / ranks
        total = (precision * rel).sum(axis=1)
        ap[start : start + block] = np.divide(total, n_rel, out=np.zeros(len(rel)), where=n_rel > 0)
    return float(ap.mean())


def precision_at_radius(database_bits, y_database, query_bits, y_query, radius: int = 2) -> float:
    """Mean share of same-class items among those within ``radius`` bits (no re-ranking).

    A query with nothing within the radius scores 0, as in the GRH paper's
    "precision within Hamming radius 2".

    Examples
    --------
    >>> db = [[0, 0, 0], [0, 0, 1], [1, 1, 1]]
    >>> precision_at_radius(db, [1, 2, 1], [[0, 0, 0], [1, 1, 0]], [1, 1], radius=1)
    0.75
    """
    database_bits = np.asarray(database_bits)
    index = HashIndex(database_bits.shape[1])
    index.add(database_bits)
    lims, _, ids = index.range_search(query_bits, radius, sort=False)
    counts = np.diff(lims)
    qidx = np.repeat(np.arange(len(counts)), counts)
    same = np.asarray(y_database)[ids] == np.asarray(y_query)[qidx]
    hits = np.bincount(qidx, weights=same, minlength=len(counts))
    return float(np.divide(hits, counts, out=np.zeros(len(counts)), where=counts > 0).mean())
