import numpy as np
import pytest

from tests.helpers import oracle_knn, oracle_range, random_codes
from tutorial_lib.hashing import bits_to_keys
from tutorial_lib.index import HashIndex, flip_masks, n_probes

BITS = [1, 7, 8, 16, 33, 64]


def radii(n_bits):
    return sorted(set(range(min(n_bits, 10) + 1)) | {n_bits})


def build(n_bits, n=1500, seed=0, clustered=True):
    db = random_codes(n, n_bits, seed=seed, n_clusters=12 if clustered else None)
    queries = random_codes(25, n_bits, seed=seed + 1)
    queries[:5] = db[:5]  # some queries sit on occupied buckets
    index = HashIndex(n_bits)
    index.add(db[: n // 3])  # two add() calls: ids must continue
    index.add(db[n // 3 :])
    return index, db, queries


def strategies(index, radius):
    names = ["auto", "scan", "probe"]
    if n_probes(index.n_bits, radius) > 200_000:
        names.remove("probe")
    return [*names, "multi_index"]


@pytest.mark.parametrize("n_bits", BITS)
def test_range_search_equals_brute_force(n_bits):
    index, db, queries = build(n_bits)
    previous = None
    for radius in radii(n_bits):
        expected = oracle_range(queries, db, radius)
        for strategy in strategies(index, radius):
            lims, dist, ids = index.range_search(queries, radius, strategy=strategy)
            assert lims.shape == (len(queries) + 1,)
            for i, (exp_ids, exp_dist) in enumerate(expected):
                got = ids[lims[i] : lims[i + 1]]
                np.testing.assert_array_equal(got, exp_ids, err_msg=f"{strategy} r={radius}")
                np.testing.assert_array_equal(dist[lims[i] : lims[i + 1]], exp_dist)
        counts = np.diff(lims)
        if previous is not None:
            assert (counts >= previous).all(), "results shrank as the radius grew"
        previous = counts


@pytest.mark.parametrize("n_bits", BITS)
def test_unsorted_range_search_has_same_sets_and_no_duplicates(n_bits):
    index, db, queries = build(n_bits, clustered=False)
    for radius in radii(n_bits):
        for strategy in strategies(index, radius):
            lims, dist, ids = index.range_search(queries, radius, strategy=strategy, sort=False)
            for i, (exp_ids, _) in enumerate(oracle_range(queries, db, radius)):
                got = ids[lims[i] : lims[i + 1]]
                assert len(np.unique(got)) == len(got)
                np.testing.assert_array_equal(np.sort(got), np.sort(exp_ids))


@pytest.mark.parametrize("n_bits", BITS)
@pytest.mark.parametrize("k", [1, 10, 100])
def test_search_equals_brute_force_with_ties_by_id(n_bits, k):
    index, db, queries = build(n_bits)
    distances, ids = index.search(queries, k)
    exp_dist, exp_ids = oracle_knn(queries, db, k)
    np.testing.assert_array_equal(ids, exp_ids)
    np.testing.assert_array_equal(distances, exp_dist)


def test_search_pads_when_index_is_small():
    index = HashIndex(8)
    index.add(random_codes(3, 8, seed=4))
    distances, ids = index.search(random_codes(2, 8, seed=5), k=5)
    assert (ids[:, 3:] == -1).all() and (distances[:, 3:] == -1).all()
    assert sorted(ids[0, :3]) == [0, 1, 2]


def test_empty_index_returns_nothing():
    index = HashIndex(16)
    lims, dist, ids = index.range_search(random_codes(3, 16), radius=4)
    assert lims.tolist() == [0, 0, 0, 0] and len(ids) == 0 and len(dist) == 0
    assert (index.search(random_codes(3, 16), 2)[1] == -1).all()


def test_flip_masks_are_every_key_within_radius():
    masks = flip_masks(6, 2)
    weights = np.bitwise_count(masks)
    assert len(masks) == 1 + 6 + 15 == n_probes(6, 2)
    assert len(set(masks.tolist())) == len(masks)
    assert (np.diff(weights.astype(int)) >= 0).all() and weights.max() == 2
    wide = flip_masks(30, 2)
    assert len(wide) == 1 + 30 + 435 and np.bitwise_count(wide).max() == 2


def test_plan_prefers_probing_at_small_radius_and_scan_or_mih_at_large():
    index, _, _ = build(16, n=5000, clustered=False)
    assert index.plan(1).strategy == "probe"
    assert index.plan(16).strategy == "scan"
    long_index, _, _ = build(64, n=5000, clustered=False)
    assert long_index.plan(0).strategy in ("probe", "multi_index")
    assert long_index.plan(5).strategy == "multi_index"
    assert long_index.plan(64).strategy == "scan"
    assert "multi_index" in str(long_index.plan(5))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda ix, q: ix.range_search(q, -1), "between 0 and n_bits=16"),
        (lambda ix, q: ix.range_search(q, 17), "got 17"),
        (lambda ix, q: ix.range_search(q, 2.5), "integer"),
        (lambda ix, q: ix.range_search(q, 2, strategy="magic"), "strategy"),
        (lambda ix, q: ix.search(q, 0), "positive integer"),
        (lambda ix, q: ix.add(np.zeros((2, 8), bool)), r"shape \(n, 16\)"),
        (lambda ix, q: ix.range_search(q[:, :4], 1), "query_bits"),
    ],
)
def test_bad_input_gives_clear_errors(call, message):
    index = HashIndex(16)
    index.add(random_codes(10, 16))
    with pytest.raises(ValueError, match=message):
        call(index, random_codes(2, 16))


def test_bucket_statistics_hand_worked():
    index = HashIndex(3)
    codes = np.array([[0, 0, 0], [0, 0, 0], [1, 0, 1], [0, 0, 0], [1, 0, 1], [1, 1, 1]])
    index.add(codes)
    stats = index.bucket_stats()
    assert stats["n_buckets"] == 3 and stats["empty_buckets"] == 5
    assert stats["max_size"] == 3 and stats["mean_size"] == 2.0 and stats["singletons"] == 1
    assert index.bucket_keys().tolist() == [0, 5, 7]
    assert index.bucket_sizes().tolist() == [3, 2, 1]
    sizes, counts = index.bucket_size_histogram()
    assert sizes.tolist() == [1, 2, 3] and counts.tolist() == [1, 1, 1]
    assert index.bucket_items(0).tolist() == [0, 1, 3]
    assert index.bucket_items(5).tolist() == [2, 4]
    assert index.bucket_items(6).tolist() == []
    purity = index.bucket_purity([1, 1, 2, 1, 3, 0])
    np.testing.assert_allclose(purity, [1.0, 0.5, 1.0])


def test_keys_and_bits_give_the_same_index():
    db = random_codes(400, 20, seed=9)
    a, b = HashIndex(20), HashIndex(20)
    a.add(db)
    b.add_keys(bits_to_keys(db))
    q = random_codes(5, 20, seed=10)
    for x, y in zip(a.range_search(q, 3), b.range_search(q, 3), strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("n_bits", [1, 8, 16])
@pytest.mark.parametrize("sort", [True, False])
def test_single_query_probe_path_equals_brute_force(n_bits, sort):
    # One query with a direct-address table takes a leaner probe path.
    index, db, queries = build(n_bits)
    for radius in radii(n_bits):
        if index.plan(radius).strategy != "probe":
            continue
        for i, (exp_ids, exp_dist) in enumerate(oracle_range(queries, db, radius)):
            lims, dist, ids = index.range_search(queries[i : i + 1], radius, sort=sort)
            assert lims.tolist() == [0, len(exp_ids)]
            if not sort:
                order = np.lexsort((ids, dist))
                dist, ids = dist[order], ids[order]
            np.testing.assert_array_equal(ids, exp_ids, err_msg=f"r={radius} query {i}")
            np.testing.assert_array_equal(dist, exp_dist)


def test_single_query_results_are_not_views_of_the_index():
    index, db, queries = build(8)
    _, _, ids = index.range_search(db[:1], 0)
    ids[:] = -5
    _, _, again = index.range_search(db[:1], 0)
    assert (again >= 0).all()


def test_cached_plans_follow_add_and_keep_validation():
    index = HashIndex(8)
    index.add(random_codes(50, 8, seed=1))
    query = random_codes(1, 8, seed=2)
    before = index.range_search(query, 3)
    index.add(np.repeat(query, 4, axis=0))  # four exact copies of the query
    lims, dist, ids = index.range_search(query, 3)
    assert lims[1] == before[0][1] + 4
    assert ids[:4].tolist() == [50, 51, 52, 53] and dist[:4].tolist() == [0, 0, 0, 0]
    index.range_search(query, 1)  # cache radius 1 ...
    with pytest.raises(ValueError, match="radius must be an integer"):
        index.range_search(query, True)  # ... True must still be refused
    with pytest.raises(ValueError, match="radius must be an integer"):
        index.range_search(query, 1.0)


@pytest.mark.parametrize("n_bits", [33, 64])
def test_knn_scan_with_loose_and_tight_bounds_equals_brute_force(n_bits):
    index, db, queries = build(n_bits, n=3000)
    qkeys = bits_to_keys(queries)
    exp_dist, exp_ids = oracle_knn(queries, db, 10)
    loose = np.full(len(queries), n_bits)
    tight = exp_dist[:, -1].copy()
    mixed = np.where(np.arange(len(queries)) % 2 == 0, loose, tight + 1)
    for upper in (loose, tight, mixed):
        dist, ids = index._search_scan(qkeys, 10, upper.copy())
        np.testing.assert_array_equal(ids, exp_ids)
        np.testing.assert_array_equal(dist, exp_dist)
