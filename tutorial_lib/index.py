"""A compact hash table over binary codes with exact Hamming search.

The vocabulary follows FAISS: :meth:`HashIndex.add` stores codes,
:meth:`HashIndex.range_search` returns every item within a Hamming radius and
:meth:`HashIndex.search` the ``k`` nearest by Hamming distance. Unlike FAISS's
binary range search, our radius is **inclusive**: "within r bits" means
distance ``<= r``. Results are exact and ordered by (distance, id).

How the table is stored: the items' bucket keys (see
:func:`tutorial_lib.hashing.bits_to_keys`) are sorted once; equal keys form a
bucket, described by the sorted distinct keys and an ``offsets`` array into
the item ids (the CSR layout). For codes of up to ``DIRECT_ADDRESS_MAX_BITS``
bits an extra array indexed by the key itself gives O(1) lookups.

Three exact strategies answer a range query, chosen per call by a cost
estimate (:meth:`HashIndex.plan`):

``probe``
    Flip every set of at most ``r`` bits of the query's key and look each
    resulting bucket up (multi-probe). Cost ~ ``n_queries * sum_{i<=r} C(b, i)``.
``multi_index``
    Multi-index hashing (Norouzi, Punjani & Fleet, CVPR 2012): the code is cut
    into ``m`` substrings with one table each. If two codes are within ``r``
    bits, by the pigeonhole principle at least one substring is within
    ``r // m`` bits, so probing every substring table at that small radius
    finds a superset of the answer, which is then verified with the full
    distance. Pays off for long codes, where plain probing explodes.
``scan``
    Compute the distance to every *distinct* key with ``np.bitwise_count``
    and keep the buckets within ``r``. Cost ~ ``n_queries * n_buckets``.

Explained in ``notebooks/03_bucket_inspection.ipynb`` and
``notebooks/04_hamming_search.ipynb``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations

import numpy as np

from .hashing.codes import bits_to_keys, check_n_bits

#: Codes this short also get a direct-address table of ``2**n_bits + 1`` offsets.
DIRECT_ADDRESS_MAX_BITS = 22

#: Relative cost of one probed bucket against one scanned distinct key. A probe
#: is a random memory access (a lookup or a binary search); a scanned key is one
#: XOR and popcount in a streaming numpy pass. Measured on the benchmark machine.
PROBE_COST = 4.0
SCAN_COST = 1.0
VERIFY_COST = 2.0

#: Largest number of probe keys (flip masks) we are willing to materialise.
MAX_MASKS = 2_000_000

#: Rows of the (queries x distinct keys) distance matrix computed at once in a scan.
SCAN_BLOCK_ELEMENTS = 1 << 24

#: Distances computed at once by the k-NN scan; small enough to stay in cache
#: across the repeated counting passes (measured: 2**18 is ~2x faster than 2**24).
KNN_SCAN_BLOCK_ELEMENTS = 1 << 18

STRATEGIES = ("auto", "probe", "multi_index", "scan")


# --------------------------------------------------------------------------- masks
def n_probes(n_bits: int, radius: int) -> int:
    """Number of buckets a radius-``radius`` probe visits: sum of C(n_bits, i), i <= radius."""
    return sum(math.comb(n_bits, i) for i in range(min(radius, n_bits) + 1))


@lru_cache(maxsize=64)
def flip_masks(n_bits: int, radius: int) -> np.ndarray:
    """All ``n_bits``-bit masks with at most ``radius`` ones, ordered by popcount.

    XOR-ing a key with each mask lists every bucket within ``radius`` bits.
    The result is cached and read-only.
    """
    radius = min(radius, n_bits)
    count = n_probes(n_bits, radius)
    if count > MAX_MASKS:
        raise ValueError(
            f"probing {count:,} buckets per query is too many; use strategy='scan' or 'multi_index'"
        )
    if n_bits <= 20:
        # Enumerate all keys and filter by popcount: one vectorised pass.
        every = np.arange(1 << n_bits, dtype=np.uint64)
        pop = np.bitwise_count(every)
        keep = pop <= radius
        masks = every[keep][np.argsort(pop[keep], kind="stable")]
    else:
        powers = np.left_shift(np.uint64(1), np.arange(n_bits, dtype=np.uint64))
        masks = np.zeros(count, dtype=np.uint64)
        pos = 1
        for weight in range(1, radius + 1):
            combos = np.fromiter(
                (p for c in combinations(range(n_bits), weight) for p in c),
                dtype=np.intp,
                count=math.comb(n_bits, weight) * weight,
            ).reshape(-1, weight)
            masks[pos : pos + len(combos)] = np.bitwise_or.reduce(powers[combos], axis=1)
            pos += len(combos)
    masks.flags.writeable = False
    return masks


# --------------------------------------------------------------------------- helpers
def _ragged_arange(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenate ``arange(s, s + n)`` for every pair without a Python loop."""
    lengths = lengths.astype(np.int64, copy=False)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    shift = np.repeat(starts.astype(np.int64) - (ends - lengths), lengths)
    return np.arange(total, dtype=np.int64) + shift


class _Table:
    """Sorted-key (CSR) bucket table over one set of uint64 keys."""

    def __init__(self, keys: np.ndarray, n_bits: int):
        self.n_bits = n_bits
        order = np.argsort(keys, kind="stable")  # stable: ids inside a bucket ascend
        sorted_keys = keys[order]
        self.ids = order.astype(np.int64)
        if len(keys):
            starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
        else:
            starts = np.zeros(0, dtype=np.int64)
        self.keys = sorted_keys[starts]
        self.offsets = np.r_[starts, len(keys)].astype(np.int64)
        self.direct = None
        self.bucket_of_item = None  # built on first use by a scan
        if n_bits <= DIRECT_ADDRESS_MAX_BITS:
            # direct[k] = index of bucket k among the distinct keys, or -1.
            self.direct = np.full(1 << n_bits, -1, dtype=np.int64)
            self.direct[self.keys.astype(np.int64)] = np.arange(len(self.keys))

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets)

    def lookup(self, probe_keys: np.ndarray) -> np.ndarray:
        """Bucket index for every probe key (any shape), ``-1`` where empty."""
        if self.direct is not None:
            return self.direct[probe_keys.astype(np.int64)]
        if len(self.keys) == 0:
            return np.full(probe_keys.shape, -1, dtype=np.int64)
        pos = np.searchsorted(self.keys, probe_keys)
        pos = np.minimum(pos, len(self.keys) - 1)
        return np.where(self.keys[pos] == probe_keys, pos, -1)

    def gather(self, buckets: np.ndarray):
        """Item ids of the given buckets (``-1`` skipped), and each id's bucket position."""
        hit = buckets >= 0
        b = buckets[hit]
        lengths = self.offsets[b + 1] - self.offsets[b]
        pos = _ragged_arange(self.offsets[b], lengths)
        return self.ids[pos], np.flatnonzero(hit), lengths


@dataclass(frozen=True)
class SearchPlan:
    """The strategy :meth:`HashIndex.range_search` will use, and why."""

    strategy: str
    costs: dict

    def __str__(self) -> str:
        parts = ", ".join(f"{k}={v:.3g}" for k, v in self.costs.items())
        return f"{self.strategy} (estimated cost per query: {parts})"


# --------------------------------------------------------------------------- index
class HashIndex:
    """Hash table over ``n_bits``-bit codes with exact Hamming search.

    Parameters
    ----------
    n_bits : int
        Code length, 1 to 64.
    n_substrings : int or None, default=None
        Substring count for multi-index hashing; ``None`` picks
        ``max(2, round(n_bits / log2(n_items)))``, the rule of thumb of
        Norouzi et al.

    Attributes
    ----------
    ntotal : int
        Number of codes added (FAISS's name).

    Examples
    --------
    >>> import numpy as np
    >>> index = HashIndex(n_bits=4)
    >>> index.add(np.array([[0, 0, 0, 0], [0, 0, 0, 1], [1, 1, 0, 0], [0, 0, 0, 1]]))
    >>> lims, distances, ids = index.range_search(np.array([[0, 0, 0, 0]]), radius=1)
    >>> ids.tolist(), distances.tolist()
    ([0, 1, 3], [0, 1, 1])
    >>> distances, ids = index.search(np.array([[1, 1, 1, 0]]), k=2)
    >>> ids.tolist(), distances.tolist()
    ([[2, 0]], [[1, 3]])
    """

    def __init__(self, n_bits: int, n_substrings: int | None = None):
        self.n_bits = check_n_bits(n_bits)
        if n_substrings is not None and not 1 <= n_substrings <= self.n_bits:
            raise ValueError(
                f"n_substrings must be between 1 and n_bits={self.n_bits}, got {n_substrings}"
            )
        self.n_substrings = n_substrings
        self._key_chunks: list[np.ndarray] = []
        self._keys = np.zeros(0, dtype=np.uint64)
        self._table: _Table | None = None
        self._mih: list[tuple[int, int, _Table]] | None = None

    # ------------------------------------------------------------- building
    def _as_keys(self, bits, what: str) -> np.ndarray:
        bits = np.asarray(bits)
        if bits.ndim != 2 or bits.shape[1] != self.n_bits:
            raise ValueError(
                f"{what} must have shape (n, {self.n_bits}) for this {self.n_bits}-bit index, "
                f"got {bits.shape}"
            )
        return bits_to_keys(bits)

    def add(self, bits) -> None:
        """Add codes (rows of bits); their ids continue from :attr:`ntotal`."""
        self.add_keys(self._as_keys(bits, "codes"))

    def add_keys(self, keys) -> None:
        """Add codes given as bucket keys (see :func:`~tutorial_lib.hashing.bits_to_keys`)."""
        keys = np.asarray(keys)
        if keys.ndim != 1 or (keys.size and keys.dtype.kind not in "ui"):
            raise ValueError(f"keys must be a 1-D integer array, got {keys.dtype} {keys.shape}")
        keys = keys.astype(np.uint64)
        if self.n_bits < 64 and keys.size and int(keys.max()) >> self.n_bits:
            raise ValueError(f"a key does not fit in {self.n_bits} bits")
        self._key_chunks.append(keys)
        self._table = None
        self._mih = None

    def reset(self) -> None:
        """Remove every code."""
        self.__init__(self.n_bits, self.n_substrings)

    @property
    def keys(self) -> np.ndarray:
        """Bucket key of every item, in id order."""
        if self._key_chunks:
            self._keys = np.concatenate([self._keys, *self._key_chunks])
            self._key_chunks = []
        return self._keys

    @property
    def ntotal(self) -> int:
        return len(self._keys) + sum(len(c) for c in self._key_chunks)

    def __len__(self) -> int:
        return self.ntotal

    @property
    def table(self) -> _Table:
        if self._table is None:
            self._table = _Table(self.keys, self.n_bits)
        return self._table

    def _substring_bounds(self) -> list[tuple[int, int]]:
        """(shift, width) of each substring, most significant first."""
        m = self.n_substrings
        if m is None:
            m = max(2, round(self.n_bits / max(1.0, math.log2(max(self.ntotal, 2)))))
            m = min(m, self.n_bits)
        widths = [self.n_bits // m + (1 if i < self.n_bits % m else 0) for i in range(m)]
        bounds, shift = [], self.n_bits
        for width in widths:
            shift -= width
            bounds.append((shift, width))
        return bounds

    @property
    def substring_tables(self) -> list[tuple[int, int, _Table]]:
        if self._mih is None:
            self._mih = []
            for shift, width in self._substring_bounds():
                sub = _substring(self.keys, shift, width)
                self._mih.append((shift, width, _Table(sub, width)))
        return self._mih

    # ------------------------------------------------------------- statistics
    @property
    def n_buckets(self) -> int:
        """Number of non-empty buckets."""
        return len(self.table.keys)

    def bucket_keys(self) -> np.ndarray:
        """Keys of the non-empty buckets, ascending."""
        return self.table.keys

    def bucket_sizes(self) -> np.ndarray:
        """Size of every non-empty bucket, in the order of :meth:`bucket_keys`."""
        return self.table.sizes

    def bucket_stats(self) -> dict:
        """Bucket count, mean and max size, empty buckets, as a dict."""
        sizes = self.bucket_sizes()
        possible = 2**self.n_bits
        return {
            "n_items": self.ntotal,
            "n_buckets": len(sizes),
            "possible_buckets": possible,
            "empty_buckets": possible - len(sizes),
            "mean_size": float(sizes.mean()) if len(sizes) else 0.0,
            "max_size": int(sizes.max()) if len(sizes) else 0,
            "singletons": int((sizes == 1).sum()),
        }

    def bucket_size_histogram(self) -> tuple[np.ndarray, np.ndarray]:
        """``(size, n_buckets_of_that_size)`` for every size that occurs."""
        sizes, counts = np.unique(self.bucket_sizes(), return_counts=True)
        return sizes, counts

    def bucket_items(self, key) -> np.ndarray:
        """Ids of the items in the bucket with this key (empty when none)."""
        key = np.asarray([key], dtype=np.uint64)
        bucket = self.table.lookup(key)
        ids, _, _ = self.table.gather(bucket)
        return ids

    def bucket_purity(self, labels) -> np.ndarray:
        """Share of each bucket's items that carry its most common label.

        Parameters
        ----------
        labels : array-like of shape (ntotal,)
            Class label of every item, in id order.

        Returns
        -------
        purity : ndarray of shape (n_buckets,), in the order of :meth:`bucket_keys`.
        """
        labels = np.asarray(labels)
        if labels.shape != (self.ntotal,):
            raise ValueError(f"labels must have shape ({self.ntotal},), got {labels.shape}")
        table = self.table
        _, codes = np.unique(labels, return_inverse=True)
        bucket_of_item = np.repeat(np.arange(len(table.keys)), table.sizes)
        counts = np.zeros((len(table.keys), codes.max() + 1), dtype=np.int64)
        np.add.at(counts, (bucket_of_item, codes[table.ids]), 1)
        return counts.max(axis=1) / table.sizes

    # ------------------------------------------------------------- planning
    def _check_radius(self, radius) -> int:
        if isinstance(radius, bool) or not isinstance(radius, int | np.integer):
            raise ValueError(f"radius must be an integer, got {radius!r}")
        if not 0 <= radius <= self.n_bits:
            raise ValueError(
                f"radius must be between 0 and n_bits={self.n_bits} (inclusive), got {radius}"
            )
        return int(radius)

    def plan(self, radius: int, strategy: str = "auto") -> SearchPlan:
        """Pick the cheapest exact strategy for a range search at ``radius``.

        The estimates are per query, in units of one scanned distinct key:

        - probe: ``PROBE_COST * sum_{i<=r} C(n_bits, i)``
        - scan: ``SCAN_COST * n_buckets``
        - multi_index: for ``m`` substrings of width ``s``, probing each at
          ``r // m`` costs ``PROBE_COST * sum_{i<=r//m} C(s, i)``, and each
          probe returns about ``n_items / 2**s`` candidates (uniform codes)
          that cost ``VERIFY_COST`` each to check.
        """
        radius = self._check_radius(radius)
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
        costs = {"probe": PROBE_COST * n_probes(self.n_bits, radius)}
        costs["scan"] = SCAN_COST * max(self.n_buckets, 1)
        if self.n_bits > DIRECT_ADDRESS_MAX_BITS:
            bounds = self._substring_bounds()
            sub_radius = radius // len(bounds)
            probes = sum(n_probes(w, sub_radius) for _, w in bounds)
            found = sum(n_probes(w, sub_radius) * self.ntotal / 2.0**w for _, w in bounds)
            costs["multi_index"] = PROBE_COST * probes + VERIFY_COST * min(found, self.ntotal)
        if n_probes(self.n_bits, radius) > MAX_MASKS:
            costs["probe"] = math.inf
        if strategy == "auto":
            strategy = min(costs, key=costs.get)
        elif strategy == "multi_index" and "multi_index" not in costs:
            costs["multi_index"] = math.nan  # allowed, just never chosen automatically
        return SearchPlan(strategy, costs)

    # ------------------------------------------------------------- searching
    def range_search(self, query_bits, radius: int, strategy: str = "auto", sort: bool = True):
        """Every item within Hamming distance ``<= radius`` of each query.

        Parameters
        ----------
        query_bits : array-like of shape (n_queries, n_bits)
        radius : int
            Inclusive, between 0 and ``n_bits``.
        strategy : {'auto', 'probe', 'multi_index', 'scan'}, default='auto'
            All are exact; 'auto' takes the cheapest by :meth:`plan`.
        sort : bool, default=True
            Order each query's results by (distance, id). ``False`` is faster
            and leaves the order to the strategy.

        Returns
        -------
        lims : ndarray of shape (n_queries + 1,)
            Results of query ``i`` are ``ids[lims[i]:lims[i + 1]]``.
        distances : ndarray of int
        ids : ndarray of int64
        """
        qkeys = self._as_keys(query_bits, "query_bits")
        return self.range_search_keys(qkeys, radius, strategy=strategy, sort=sort)

    def range_search_keys(self, query_keys, radius: int, strategy: str = "auto", sort=True):
        """:meth:`range_search` for queries given as bucket keys."""
        plan = self.plan(radius, strategy)
        qkeys = np.asarray(query_keys, dtype=np.uint64).ravel()
        run = {
            "probe": self._range_probe,
            "scan": self._range_scan,
            "multi_index": self._range_multi_index,
        }[plan.strategy]
        qidx, dist, ids = run(qkeys, int(radius))
        if sort:
            order = np.lexsort((ids, dist, qidx))
            qidx, dist, ids = qidx[order], dist[order], ids[order]
        return _lims(qidx, len(qkeys)), dist, ids

    def _range_probe(self, qkeys, radius):
        table = self.table
        masks = flip_masks(self.n_bits, radius)
        weight = np.bitwise_count(masks).astype(np.int64)
        probes = qkeys[:, None] ^ masks[None, :]
        buckets = table.lookup(probes).ravel()
        ids, flat_hit, lengths = table.gather(buckets)
        qidx = np.repeat(flat_hit // len(masks), lengths)
        dist = np.repeat(weight[flat_hit % len(masks)], lengths)
        return qidx, dist, ids

    def _scan_distances(self, qkeys, keys):
        """Yield (first query, distance block) over row blocks of the distance matrix."""
        rows = max(1, SCAN_BLOCK_ELEMENTS // max(len(keys), 1))
        for start in range(0, len(qkeys), rows):
            block = qkeys[start : start + rows]
            yield start, np.bitwise_count(block[:, None] ^ keys[None, :])

    def _range_scan(self, qkeys, radius):
        table = self.table
        sizes = table.sizes
        parts = []
        for start, dist in self._scan_distances(qkeys, table.keys):
            within = dist <= radius
            n_found = int(sizes @ within.sum(axis=0))
            if n_found > len(dist) * self.ntotal // 4:
                parts.append(self._expand_to_items(dist, within, start, radius))
                continue
            flat = np.flatnonzero(within)
            qi, bi = np.divmod(flat, dist.shape[1])
            ids, _, lengths = table.gather(bi)
            parts.append(
                (
                    np.repeat(qi + start, lengths),
                    np.repeat(dist.ravel()[flat].astype(np.int64), lengths),
                    ids,
                )
            )
        return _concat3(parts)

    def _expand_to_items(self, dist, within, start, radius):
        """Most items match: test every item through its bucket's distance.

        Cheaper than gathering bucket by bucket when the answer is a large
        share of the database, and it yields ids already in ascending order.
        """
        item_dist = dist[:, self._bucket_of_item]
        flat = np.flatnonzero(item_dist <= radius)
        qi, ids = np.divmod(flat, self.ntotal)
        return qi + start, item_dist.ravel()[flat].astype(np.int64), ids

    @property
    def _bucket_of_item(self) -> np.ndarray:
        table = self.table
        if getattr(table, "bucket_of_item", None) is None:
            table.bucket_of_item = np.empty(self.ntotal, dtype=np.int64)
            table.bucket_of_item[table.ids] = np.repeat(np.arange(len(table.keys)), table.sizes)
        return table.bucket_of_item

    def _range_multi_index(self, qkeys, radius):
        tables = self.substring_tables
        sub_radius = radius // len(tables)
        cand_q, cand_ids, cand_table = [], [], []
        for t, (shift, width, table) in enumerate(tables):
            masks = flip_masks(width, sub_radius)
            probes = _substring(qkeys, shift, width)[:, None] ^ masks[None, :]
            buckets = table.lookup(probes).ravel()
            ids, flat_hit, lengths = table.gather(buckets)
            cand_q.append(np.repeat(flat_hit // len(masks), lengths))
            cand_ids.append(ids)
            cand_table.append(np.full(len(ids), t, dtype=np.int8))
        qidx = np.concatenate(cand_q)
        ids = np.concatenate(cand_ids)
        table_of = np.concatenate(cand_table)
        # Verify first (cheap and vectorised), so the duplicate removal below
        # only sees the few true matches: deduplicating every candidate with
        # np.unique cost 50x more than the verification.
        xor = qkeys[qidx] ^ self.keys[ids]
        dist = np.bitwise_count(xor)
        keep = np.flatnonzero(dist <= radius)
        qidx, ids, dist, xor, table_of = qidx[keep], ids[keep], dist[keep], xor[keep], table_of[keep]
        # An item within reach of several substrings was found once per table:
        # keep only the copy from the first table that reaches it.
        first = np.ones(len(ids), dtype=bool)
        for t, (shift, width, _) in enumerate(tables[:-1]):
            reached = np.bitwise_count(_substring(xor, shift, width)) <= sub_radius
            first &= ~(reached & (table_of > t))
        # Group by query (stable: ascending ids within a table's bucket).
        order = np.argsort(qidx[first], kind="stable")
        return (
            qidx[first][order],
            dist[first][order].astype(np.int64),
            ids[first][order],
        )

    def search(self, query_bits, k: int):
        """The ``k`` nearest items by Hamming distance, ties broken by smaller id.

        Returns
        -------
        distances : ndarray of shape (n_queries, k), int
        ids : ndarray of shape (n_queries, k), int64
            Padded with ``-1`` (and distance ``-1``) when the index holds fewer
            than ``k`` items, as FAISS does.
        """
        qkeys = self._as_keys(query_bits, "query_bits")
        return self.search_keys(qkeys, k)

    def search_keys(self, query_keys, k: int):
        """:meth:`search` for queries given as bucket keys.

        Exact k-NN as a sequence of range searches of growing radius: once a
        query has at least ``k`` items within ``r`` bits, its first ``k``
        results in (distance, id) order are the answer. Each round uses the
        strategy :meth:`plan` picks, so short codes probe and long codes use
        multi-index hashing; when the plan says a scan is cheapest, the queries
        still open are answered by one scan of all codes (:meth:`_search_scan`).
        """
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        qkeys = np.asarray(query_keys, dtype=np.uint64).ravel()
        nq = len(qkeys)
        distances = np.full((nq, k), -1, dtype=np.int64)
        ids = np.full((nq, k), -1, dtype=np.int64)
        if self.ntotal == 0 or nq == 0:
            return distances, ids
        k_found = min(k, self.ntotal)  # fewer items than k: pad the rest with -1
        pending = np.arange(nq)
        radius = 0
        while len(pending):
            plan = self.plan(radius)
            if plan.strategy == "scan":
                break
            if plan.strategy == "multi_index":
                # Multi-index costs the same for every radius with the same
                # substring radius: search the largest such radius at once.
                m = len(self.substring_tables)
                radius = min(self.n_bits, (radius // m + 1) * m - 1)
            lims, dist, found = self.range_search_keys(qkeys[pending], radius, plan.strategy)
            done = np.diff(lims) >= k_found
            pos = _ragged_arange(lims[:-1][done], np.full(done.sum(), k_found))
            distances[pending[done], :k_found] = dist[pos].reshape(-1, k_found)
            ids[pending[done], :k_found] = found[pos].reshape(-1, k_found)
            pending = pending[~done]
            radius += 1
        if len(pending):
            distances[pending, :k_found], ids[pending, :k_found] = self._search_scan(
                qkeys[pending], k_found
            )
        return distances, ids

    def _search_scan(self, qkeys, k):
        """Exact k-NN by computing the distance to every item (k <= ntotal).

        Distances fit in uint8, so a per-row ``np.bincount`` histogram gives
        the k-th distance (measured 5x faster than ``np.partition`` per row);
        the items within it are few, and a stable sort keeps ties in id order.
        Blocks are small so each row's distances are still in cache.
        """
        distances = np.empty((len(qkeys), k), dtype=np.int64)
        ids = np.empty((len(qkeys), k), dtype=np.int64)
        keys = self.keys
        rows = max(1, KNN_SCAN_BLOCK_ELEMENTS // max(len(keys), 1))
        for start in range(0, len(qkeys), rows):
            block = np.bitwise_count(qkeys[start : start + rows, None] ^ keys[None, :])
            for row, dist in enumerate(block, start=start):
                counts = np.cumsum(np.bincount(dist, minlength=self.n_bits + 1))
                kth = int(np.argmax(counts >= k))
                near = np.flatnonzero(dist <= kth)  # ascending ids
                best = near[np.argsort(dist[near], kind="stable")[:k]]
                distances[row], ids[row] = dist[best], best
        return distances, ids


def _substring(keys: np.ndarray, shift: int, width: int) -> np.ndarray:
    mask = np.uint64((1 << width) - 1)
    return (keys >> np.uint64(shift)) & mask


def _concat3(parts):
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    if len(parts) == 1:
        return parts[0]
    return tuple(np.concatenate(p) for p in zip(*parts, strict=True))


def _lims(qidx, nq):
    # Every strategy emits results grouped by query in ascending query order
    # (row-major probing, row-major np.nonzero, np.unique on query-major pairs),
    # so counting per query gives the FAISS-style offsets.
    return np.r_[0, np.cumsum(np.bincount(qidx, minlength=nq))].astype(np.int64)
