import numpy as np
import pandas as pd
import pytest

from tests.helpers import gaussian_classes, oracle_cosine_top_k, oracle_range, random_codes
from tutorial_lib.evaluation import (
    CosineReranker,
    brute_force_top_k,
    label_hits,
    mean_average_precision,
    precision_at_k,
    precision_at_radius,
    radius_sweep,
)
from tutorial_lib.hashing import LSH
from tutorial_lib.index import HashIndex


def test_precision_at_k_hand_worked():
    assert precision_at_k([1, 1, 2, 1, 3, 1, 1, 2, 1, 1], 1) == 0.7
    assert precision_at_k([1, 1, 1], 1, k=10) == 0.3  # fewer than k: still divide by k
    assert precision_at_k([], 1) == 0.0
    assert precision_at_k([2, 2], 1) == 0.0
    assert precision_at_k([1] * 20, 1, k=10) == 1.0  # only the first k count
    with pytest.raises(ValueError, match="positive integer"):
        precision_at_k([1], 1, k=0)


def test_mean_average_precision_hand_worked():
    # One query at 00, label 1. Database distances: id0 d=1 (rel), id1 d=0 (not),
    # id2 d=1 (rel), id3 d=2 (not). Ranking by (distance, id): 1, 0, 2, 3.
    # Relevant at ranks 2 and 3: AP = (1/2 + 2/3) / 2 = 7/12.
    db = [[0, 1], [0, 0], [1, 0], [1, 1]]
    assert mean_average_precision(db, [1, 0, 1, 0], [[0, 0]], [1]) == pytest.approx(7 / 12)
    # Two queries: second one has no relevant item -> AP 0; mean = 7/24.
    got = mean_average_precision(db, [1, 0, 1, 0], [[0, 0], [0, 0]], [1, 5])
    assert got == pytest.approx(7 / 24)


def test_mean_average_precision_matches_a_literal_loop():
    db = random_codes(300, 12, seed=3, n_clusters=5)
    q = random_codes(20, 12, seed=4)
    y_db = np.random.default_rng(0).integers(0, 4, 300)
    y_q = np.random.default_rng(1).integers(0, 4, 20)
    aps = []
    for qi in range(20):
        d = (db != q[qi]).sum(axis=1)
        ranked = sorted(range(300), key=lambda i: (d[i], i))
        hits, total = 0, 0.0
        for rank, i in enumerate(ranked, start=1):
            if y_db[i] == y_q[qi]:
                hits += 1
                total += hits / rank
        aps.append(total / hits if hits else 0.0)
    assert mean_average_precision(db, y_db, q, y_q) == pytest.approx(np.mean(aps))


def test_precision_at_radius_hand_worked():
    db = [[0, 0, 0], [0, 0, 1], [1, 1, 1], [0, 1, 1]]
    y_db = [1, 2, 1, 1]
    # q0 = 000, r=1: ids 0 (1), 1 (2) -> 1/2. q1 = 110, r=1: id 2 (1) -> 1. q2 = 100: id 0 -> 1.
    # q3 = 111 with label 7: ids 2, 3 -> 0.  Mean = (0.5 + 1 + 1 + 0) / 4.
    q = [[0, 0, 0], [1, 1, 0], [1, 0, 0], [1, 1, 1]]
    assert precision_at_radius(db, y_db, q, [1, 1, 1, 7], radius=1) == pytest.approx(0.625)
    # Nothing within radius 0 of 110: that query counts 0.
    assert precision_at_radius(db, y_db, [[1, 1, 0]], [1], radius=0) == 0.0


def test_reranker_equals_a_literal_cosine_loop():
    X, _ = gaussian_classes(400, 16, seed=2)
    X[7] = 0.0  # a zero vector must not break anything
    Q, _ = gaussian_classes(6, 16, seed=3)
    rng = np.random.default_rng(5)
    cand = [np.sort(rng.choice(400, size=s, replace=False)) for s in (0, 3, 10, 50, 400, 399)]
    lims = np.r_[0, np.cumsum([len(c) for c in cand])]
    ids = np.concatenate(cand)
    top = CosineReranker(X).top_k(Q, lims, ids, k=10)
    for i, c in enumerate(cand):
        expected = oracle_cosine_top_k(X, Q[i], c, 10)
        assert top[i, : len(expected)].tolist() == expected
        assert (top[i, len(expected) :] == -1).all()


def test_reranker_breaks_exact_ties_by_id():
    X = np.tile([[1.0, 2.0]], (30, 1))
    X[::3] *= 2  # same direction, same cosine
    lims = np.array([0, 30])
    top = CosineReranker(X).top_k(np.array([[1.0, 2.0]]), lims, np.arange(30)[::-1].copy(), 10)
    assert top[0].tolist() == list(range(10))


def test_label_hits_ignores_padding():
    hits = label_hits(np.array([[2, -1, 0]]), np.array([5, 6, 5]), np.array([5]))
    assert hits.tolist() == [[True, False, True]]


@pytest.fixture(scope="module")
def sweep_setup():
    X, y = gaussian_classes(1500, 24, n_classes=6, seed=11, spread=2.0)
    Xq, yq, Xd, yd = X[:40], y[:40], X[40:], y[40:]
    lsh = LSH(n_bits=10, random_state=0).fit(Xd)
    index = HashIndex(10)
    index.add(lsh.transform(Xd))
    return index, Xd, yd, Xq, yq, lsh.transform(Xq)


@pytest.mark.parametrize("timing", ["batch", "single"])
def test_radius_sweep_against_a_literal_implementation(sweep_setup, timing):
    index, Xd, yd, Xq, yq, qbits = sweep_setup
    df = radius_sweep(index, Xd, yd, Xq, yq, qbits, max_radius=10, timing=timing)
    assert df["radius"].tolist() == list(range(11))
    assert list(df.columns) == [
        "radius",
        "precision_at_10",
        "nn_accuracy",
        "mean_candidates",
        "mean_query_ms",
    ]
    from tutorial_lib.hashing import keys_to_bits

    db_bits = keys_to_bits(index.keys, 10)
    for radius in (0, 2, 5, 10):
        precisions, nn, counts = [], [], []
        for i, (cands, _) in enumerate(oracle_range(qbits, db_bits, radius)):
            top = oracle_cosine_top_k(Xd, Xq[i], cands, 10)
            labels = yd[top]
            precisions.append(np.sum(labels == yq[i]) / 10)
            nn.append(bool(len(top)) and labels[0] == yq[i])
            counts.append(len(cands))
        row = df.loc[radius]
        assert row["precision_at_10"] == pytest.approx(np.mean(precisions))
        assert row["nn_accuracy"] == pytest.approx(np.mean(nn))
        assert row["mean_candidates"] == pytest.approx(np.mean(counts))
    assert (np.diff(df["mean_candidates"]) >= 0).all()
    assert (df["mean_query_ms"] >= 0).all()


def test_radius_sweep_at_full_radius_is_brute_force(sweep_setup):
    index, Xd, yd, Xq, yq, qbits = sweep_setup
    df = radius_sweep(index, Xd, yd, Xq, yq, qbits, max_radius=10)
    brute = label_hits(brute_force_top_k(Xd, Xq, 10), yd, yq).mean()
    assert df["precision_at_10"].iloc[-1] == pytest.approx(brute)
    assert df["mean_candidates"].iloc[-1] == len(Xd)


def test_radius_sweep_errors(sweep_setup):
    index, Xd, yd, Xq, yq, qbits = sweep_setup
    with pytest.raises(ValueError, match="max_radius must be >= 0"):
        radius_sweep(index, Xd, yd, Xq, yq, qbits, max_radius=-1)
    with pytest.raises(ValueError, match="timing"):
        radius_sweep(index, Xd, yd, Xq, yq, qbits, timing="never")
    with pytest.raises(ValueError, match="the index holds"):
        radius_sweep(index, Xd[:5], yd[:5], Xq, yq, qbits)


def test_batch_and_single_sweeps_agree_at_every_radius(sweep_setup):
    # The batch sweep switches to an all-pairs view at large radii; the
    # single-query sweep never does. Both must report the same numbers.
    index, Xd, yd, Xq, yq, qbits = sweep_setup
    batch = radius_sweep(index, Xd, yd, Xq, yq, qbits, max_radius=10, timing="batch")
    single = radius_sweep(index, Xd, yd, Xq, yq, qbits, max_radius=10, timing="single")
    cols = ["radius", "precision_at_10", "nn_accuracy", "mean_candidates"]
    pd.testing.assert_frame_equal(batch[cols], single[cols])


def test_reranker_float32_pass_keeps_near_ties_exact():
    # Scores closer together than float32 can tell apart: the float64 re-check
    # must still order them exactly (and ties by id).
    rng = np.random.default_rng(7)
    base = rng.standard_normal(64)
    X = base + 1e-5 * rng.standard_normal((200, 64))  # cosines differ by ~1e-10
    q = base[None, :]
    lims = np.array([0, 200])
    top = CosineReranker(X).top_k(q, lims, np.arange(200), k=10)
    expected = oracle_cosine_top_k(X, q[0], np.arange(200), 10)
    assert top[0].tolist() == expected


@pytest.fixture(scope="module")
def screened():
    # Enough items and features for the principal-direction screening.
    from tutorial_lib.evaluation import PRUNE_DIMS, PRUNE_MIN_CANDIDATES

    # Low-rank (like real features) so that screening drops candidates.
    rng = np.random.default_rng(20)
    basis = rng.standard_normal((8, 3 * PRUNE_DIMS))
    Z, _ = gaussian_classes(2512, 8, n_classes=8, seed=21, spread=1.5)
    X = Z @ basis + 0.2 * rng.standard_normal((2512, 3 * PRUNE_DIMS))
    X, Q = X[:2500], X[2500:]
    X[10:20] = X[5]  # exact duplicates: ties broken by id
    X[30] = X[31] * 3.0  # same direction
    X[40] = 0.0  # zero vector
    Q[0] = X[5]  # query on the duplicated row
    Q[1] = 0.0  # zero query: every cosine is 0, all tied
    reranker = CosineReranker(X)
    assert reranker._screen is not None
    return X, Q, reranker, PRUNE_MIN_CANDIDATES


@pytest.mark.parametrize("size", [5, 11, 60, 400, 1800, 2500])
def test_screened_single_query_rerank_equals_a_literal_loop(screened, size):
    X, Q, reranker, _ = screened
    rng = np.random.default_rng(size)
    for i in range(len(Q)):
        cand = rng.choice(len(X), size=size, replace=False)
        cand[:12] = np.arange(5, 17)[: min(12, size)]  # include the duplicates
        cand = np.unique(cand)
        rng.shuffle(cand)  # candidates need not be sorted
        top = reranker.top_k(Q[i : i + 1], np.array([0, len(cand)]), cand, k=10)
        expected = oracle_cosine_top_k(X, Q[i], cand, 10)
        assert top[0, : len(expected)].tolist() == expected, f"query {i}, {size} candidates"


def test_screened_batch_rerank_equals_single_and_unscreened(screened):
    X, Q, reranker, _ = screened
    rng = np.random.default_rng(3)
    cand = [
        np.unique(rng.choice(len(X), size=s))
        for s in (0, 4, 300, 900, 2000, 50, 7, 1, 2500, 120, 30, 10)
    ]
    lims = np.r_[0, np.cumsum([len(c) for c in cand])]
    ids = np.concatenate(cand)
    batch = reranker.top_k(Q, lims, ids, k=10)
    plain = CosineReranker(X)
    plain._screen = None
    unscreened = plain.top_k(Q, lims, ids, k=10)
    for i, c in enumerate(cand):
        single = reranker.top_k(Q[i : i + 1], np.array([0, len(c)]), c, k=10)
        assert single[0].tolist() == batch[i].tolist() == unscreened[i].tolist()
        expected = oracle_cosine_top_k(X, Q[i], c, 10)
        assert batch[i, : len(expected)].tolist() == expected


def test_screen_drops_only_items_that_cannot_be_in_the_top_k(screened):
    X, Q, reranker, _ = screened
    cand = np.arange(len(X))
    for q in Q[2:]:
        q = q / np.linalg.norm(q)
        kept = set(reranker._screen.prune(q, cand, 10, reranker.tolerance).tolist())
        assert set(oracle_cosine_top_k(X, q, cand, 10)) <= kept
        assert len(kept) < len(X)  # and it does drop something on clustered data
