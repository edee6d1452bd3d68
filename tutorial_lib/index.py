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
#: XOR and popcount in a streaming numpy pass. A multi-index candidate is
#: gathered, verified and de-duplicated: measured at 64 bits (58,682 LSH
#: codes, benchmarks/bench_mih.py) about 50 ns per candidate against 4 ns per
#: scanned key, hence VERIFY_COST = 12. (It was 2 before verification moved
#: ahead of de-duplication; the estimate then under-priced multi-index ~6x.)
PROBE_COST = 4.0
SCAN_COST = 1.0
VERIFY_COST = 12.0

#: k-NN on long codes runs another multi-index round only while verifying its
#: candidates costs less than this share of scanning every code (measured at
#: 64 bits: the substring-radius-2 round cost 96 ms and saved 40 ms of scan).
KNN_ROUND_SHARE = 0.25

#: Largest number of probe keys (flip masks) we are willing to materialise.
MAX_MASKS = 2_000_000

#: Rows of the (queries x distinct keys) distance matrix computed at once in a scan.
SCAN_BLOCK_ELEMENTS = 1 << 24

#: Distances computed at once by the k-NN scan; small enough to stay in cache
#: between computing and filtering them (measured: 2**18 is ~2x faster than 2**24).
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


@lru_cache(maxsize=64)
def _masks_and_weights(n_bits: int, radius: int):
    """:func:`flip_masks` and each mask's popcount (int64), cached together."""
    masks = flip_masks(n_bits, radius)
    weight = np.bitwise_count(masks).astype(np.int64)
    weight.flags.writeable = False
    return masks, weight


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
        self._bucket_of_item = None  # built on first use by a scan
        self._key_start = None  # built on first use by a single-query probe
        if n_bits <= DIRECT_ADDRESS_MAX_BITS:
            # direct[k] = index of bucket k among the distinct keys, or -1.
            self.direct = np.full(1 << n_bits, -1, dtype=np.int64)
            self.direct[self.keys.astype(np.int64)] = np.arange(len(self.keys))

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def key_start(self) -> np.ndarray:
        """Direct-address offsets: key ``k``'s items are ``ids[start[k]:start[k + 1]]``.

        ``2**n_bits + 1`` entries (short codes only); an empty bucket is an
        empty slice, so a probe needs no hit test.
        """
        if self._key_start is None:
            counts = np.zeros(1 << self.n_bits, dtype=np.int64)
            counts[self.keys.astype(np.int64)] = np.diff(self.offsets)
            start = np.zeros((1 << self.n_bits) + 1, dtype=np.int64)
            np.cumsum(counts, out=start[1:])
            self._key_start = start
        return self._key_start

    @property
    def bucket_of_item(self) -> np.ndarray:
        """Bucket index of every item, in id order."""
        if self._bucket_of_item is None:
            self._bucket_of_item = np.empty(len(self.ids), dtype=np.int64)
            self._bucket_of_item[self.ids] = np.repeat(np.arange(len(self.keys)), self.sizes)
        return self._bucket_of_item

    def lookup(self, probe_keys: np.ndarray) -> np.ndarray:
        """Bucket index for every probe key (any shape), ``-1`` where empty."""
        if self.direct is not None:
            return self.direct[probe_keys.astype(np.int64)]
        if len(self.keys) == 0:
            return np.full(probe_keys.shape, -1, dtype=np.int64)
        pos = np.searchsorted(self.keys, probe_keys)
        pos = np.minimum(pos, len(self.keys) - 1)
        return np.where(self.keys[pos] == probe_keys, pos, -1)

    def probe(self, qkeys: np.ndarray, masks: np.ndarray):
        """Items in the buckets ``key ^ mask`` for every query key and mask.

        Returns, one entry per item found, grouped by query: the query's
        position, the position of the mask that reached it, and the item id.
        """
        buckets = self.lookup(qkeys[:, None] ^ masks[None, :]).ravel()
        ids, flat_hit, lengths = self.gather(buckets)
        query_of, mask_of = np.divmod(flat_hit, len(masks))
        return np.repeat(query_of, lengths), np.repeat(mask_of, lengths), ids

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
        self._plans: dict = {}  # (radius, strategy) -> SearchPlan, until the next add

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
        self._plans = {}

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
        counts = np.zeros((len(table.keys), codes.max() + 1), dtype=np.int64)
        np.add.at(counts, (table.bucket_of_item, codes), 1)
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
        # Plans depend only on (radius, strategy) and the codes: cached until
        # the next add. type() in the key keeps True from passing as 1.
        plan = self._plans.get((type(radius), radius, strategy))
        if plan is None:
            plan = self.plan(radius, strategy)
            self._plans[(type(radius), radius, strategy)] = plan
        qkeys = np.asarray(query_keys, dtype=np.uint64).ravel()
        if len(qkeys) == 1 and plan.strategy == "probe" and self.n_bits <= DIRECT_ADDRESS_MAX_BITS:
            return self._range_probe_one(qkeys, int(radius), sort)
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

    def _range_probe_one(self, qkeys, radius, sort):
        """One query, short codes: probe through the direct-address offsets.

        Same results as :meth:`_range_probe` with a fraction of its numpy
        calls (a single query's cost is mostly per-call overhead).
        """
        table = self.table
        start = table.key_start
        if radius == 0:
            q = int(qkeys[0])
            ids = table.ids[start[q] : start[q + 1]]  # one bucket: already by id
            return np.array([0, len(ids)], dtype=np.int64), np.zeros(len(ids), np.int64), ids.copy()
        masks, weight = _masks_and_weights(self.n_bits, radius)
        probes = (masks ^ qkeys[0]).view(np.int64)
        first = start[probes]
        lengths = start[1:][probes] - first
        nonempty = np.flatnonzero(lengths)
        first, lengths = first[nonempty], lengths[nonempty]
        ids = table.ids[_ragged_arange(first, lengths)]
        dist = np.repeat(weight[nonempty], lengths)
        if sort:
            # Masks are ordered by popcount and a bucket's ids ascend, so
            # only ids within each distance need ordering.
            order = np.lexsort((ids, dist))
            dist, ids = dist[order], ids[order]
        return np.array([0, len(ids)], dtype=np.int64), dist, ids

    def _range_probe(self, qkeys, radius):
        masks, weight = _masks_and_weights(self.n_bits, radius)
        qidx, mask_of, ids = self.table.probe(qkeys, masks)
        return qidx, weight[mask_of], ids

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
                parts.append(self._expand_to_items(dist, start, radius))
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

    def _expand_to_items(self, dist, start, radius):
        """Most items match: test every item through its bucket's distance.

        Cheaper than gathering bucket by bucket when the answer is a large
        share of the database, and it yields ids already in ascending order.
        """
        item_dist = dist[:, self.table.bucket_of_item]
        flat = np.flatnonzero(item_dist <= radius)
        qi, ids = np.divmod(flat, self.ntotal)
        return qi + start, item_dist.ravel()[flat].astype(np.int64), ids

    def _range_multi_index(self, qkeys, radius):
        sub_radius = radius // len(self.substring_tables)
        qidx, ids, dist = self._multi_index_candidates(qkeys, sub_radius)
        keep = dist <= radius
        return qidx[keep], dist[keep], ids[keep]

    def _multi_index_candidates(self, qkeys, sub_radius):
        """Every item with some substring within ``sub_radius`` bits of the query's.

        Each (query, item) pair appears once, grouped by query, with its full
        distance: a superset of the items within ``m * (sub_radius + 1) - 1``.
        """
        tables = self.substring_tables
        cand_q, cand_ids, cand_table = [], [], []
        for t, (shift, width, table) in enumerate(tables):
            masks = flip_masks(width, sub_radius)
            qidx, _, ids = table.probe(_substring(qkeys, shift, width), masks)
            cand_q.append(qidx)
            cand_ids.append(ids)
            cand_table.append(np.full(len(ids), t, dtype=np.int8))
        qidx = np.concatenate(cand_q)
        ids = np.concatenate(cand_ids)
        table_of = np.concatenate(cand_table)
        xor = qkeys[qidx] ^ self.keys[ids]
        # An item within reach of several substrings was found once per table:
        # keep only the copy from the first table that reaches it. (Sorting
        # all pairs with np.unique instead cost 50x the verification.)
        first = np.ones(len(ids), dtype=bool)
        for t, (shift, width, _) in enumerate(tables[:-1]):
            reached = np.bitwise_count(_substring(xor, shift, width)) <= sub_radius
            first &= ~(reached & (table_of > t))
        # Group by query (stable: ascending ids within a table's bucket).
        qidx, ids, xor = qidx[first], ids[first], xor[first]
        order = np.argsort(qidx, kind="stable")
        return qidx[order], ids[order], np.bitwise_count(xor[order]).astype(np.int64)

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

        Exact k-NN as a sequence of searches of growing radius: once a query
        has at least ``k`` items within ``r`` bits, its first ``k`` results in
        (distance, id) order are the answer. Short codes probe
        (:meth:`_search_rounds`); long codes use multi-index candidates
        (:meth:`_search_multi_index`). Queries still open when growing the
        radius would cost more than a scan are answered by one scan of all
        codes (:meth:`_search_scan`).
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
        out = (distances[:, :k_found], ids[:, :k_found])
        upper = np.full(nq, self.n_bits, dtype=np.int64)  # bound on each k-th distance
        if self.n_bits > DIRECT_ADDRESS_MAX_BITS:
            pending = self._search_multi_index(qkeys, k_found, out, upper)
        else:
            pending = self._search_rounds(qkeys, k_found, out)
        if len(pending):
            d, i = self._search_scan(qkeys[pending], k_found, upper[pending])
            distances[pending, :k_found], ids[pending, :k_found] = d, i
        return distances, ids

    def _search_rounds(self, qkeys, k, out):
        """Range searches at radius 0, 1, ... while :meth:`plan` prefers probing."""
        pending = np.arange(len(qkeys))
        radius = 0
        while len(pending) and self.plan(radius).strategy == "probe":
            lims, dist, found = self.range_search_keys(qkeys[pending], radius, "probe")
            done = np.diff(lims) >= k
            _store_first_k(out, pending[done], lims[:-1][done], dist, found, k)
            pending = pending[~done]
            radius += 1
        return pending

    def _search_multi_index(self, qkeys, k, out, upper):
        """Multi-index candidates at substring radius 0, 1, ... (long codes).

        Round ``s`` finds every item within ``m * (s + 1) - 1`` bits. Queries
        with ``k`` of those are done; for the others, the k-th smallest
        distance among all their candidates bounds the k-th distance from
        above (``upper``), which makes the final scan cheap. Rounds stop when
        the next one's candidates would cost more to verify than a scan.
        """
        m = len(self.substring_tables)
        width = min(w for _, w in self._substring_bounds())
        pending = np.arange(len(qkeys))
        for sub_radius in range(width + 1):
            qidx, found, dist = self._multi_index_candidates(qkeys[pending], sub_radius)
            radius = m * (sub_radius + 1) - 1
            # Per query, how many candidates lie at each distance: tells which
            # queries have k results within the radius, and an upper bound on
            # the k-th distance for the others, without sorting all candidates.
            hist = np.bincount(
                qidx * (self.n_bits + 1) + dist, minlength=len(pending) * (self.n_bits + 1)
            ).reshape(len(pending), self.n_bits + 1)
            cum = np.cumsum(hist, axis=1)
            done = cum[:, radius] >= k
            has_k = cum[:, -1] >= k
            upper[pending[has_k]] = np.argmax(cum[has_k] >= k, axis=1)
            if done.any():
                # Only the done queries' results within the radius get sorted.
                keep = done[qidx] & (dist <= radius)
                q_d, f_d, d_d = qidx[keep], found[keep], dist[keep]
                order = np.lexsort((f_d, d_d, q_d))
                starts = np.r_[0, np.cumsum(cum[done, radius])[:-1]]
                _store_first_k(out, pending[done], starts, d_d[order], f_d[order], k)
            n_candidates = len(qidx) - int(hist[done].sum())
            pending = pending[~done]
            grow = n_probes(width, sub_radius + 1) / n_probes(width, sub_radius)
            next_cost = VERIFY_COST * grow * n_candidates
            scan_cost = SCAN_COST * self.ntotal * len(pending)
            if not len(pending) or next_cost > KNN_ROUND_SHARE * scan_cost:
                break
        return pending

    def _search_scan(self, qkeys, k, upper):
        """Exact k-NN by computing the distance to every item (k <= ntotal).

        ``upper`` bounds each query's k-th distance from above; the items
        within it (usually a few hundred) are sorted by (distance, id). Where
        the bound is loose (``n_bits``), a per-row ``np.bincount`` histogram of
        the uint8 distances finds the k-th distance first (measured 5x faster
        than ``np.partition``). Blocks are small so the distances stay in cache.
        """
        keys = self.keys
        n_keys = len(keys)
        rows = max(1, KNN_SCAN_BLOCK_ELEMENTS // max(n_keys, 1))
        # Reused buffers: fresh multi-megabyte temporaries per block would be
        # new pages from the OS every time (page faults cost ~30% here).
        xor = np.empty((rows, n_keys), dtype=np.uint64)
        dist_buf = np.empty((rows, n_keys), dtype=np.uint8)
        mask_buf = np.empty((rows, n_keys), dtype=bool)
        bound = np.minimum(upper, self.n_bits).astype(np.uint8)
        loose = upper >= self.n_bits
        any_loose = bool(loose.any())
        # Per block only the passes over the distances; the few survivors of
        # every block are sorted together at the end (one sort instead of one
        # per block: the per-block numpy calls were a third of the time).
        flats, dists = [], []
        for start in range(0, len(qkeys), rows):
            n = min(rows, len(qkeys) - start)
            np.bitwise_xor(qkeys[start : start + n, None], keys[None, :], out=xor[:n])
            block = np.bitwise_count(xor[:n], out=dist_buf[:n])
            b = bound[start : start + n]
            if any_loose and loose[start : start + n].any():
                b = b.copy()
                for row in np.flatnonzero(loose[start : start + n]):
                    counts = np.cumsum(np.bincount(block[row], minlength=self.n_bits + 1))
                    b[row] = np.argmax(counts >= k)
            within = np.less_equal(block, b[:, None], out=mask_buf[:n])
            # flatnonzero: 10x faster than a 2-D np.nonzero here.
            flat = np.flatnonzero(within)
            dists.append(block.ravel()[flat])
            flat += start * n_keys
            flats.append(flat)
        flat = np.concatenate(flats)
        dist = np.concatenate(dists).astype(np.int64)
        qi, item = np.divmod(flat, n_keys)
        # flat ascends, i.e. by (query, id): a stable sort by (query, distance)
        # gives the (query, distance, id) order.
        order = np.argsort(qi * (self.n_bits + 1) + dist, kind="stable")
        first = _lims(qi, len(qkeys))[:-1]
        pos = order[(first[:, None] + np.arange(k)).ravel()]
        return dist[pos].reshape(-1, k), item[pos].reshape(-1, k)


def _store_first_k(out, rows, starts, dist, ids, k):
    """Write the k results starting at ``starts`` (one per row) into ``out`` rows."""
    if not len(rows):
        return
    pos = (starts[:, None] + np.arange(k)).ravel()
    out[0][rows] = dist[pos].reshape(-1, k)
    out[1][rows] = ids[pos].reshape(-1, k)


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
