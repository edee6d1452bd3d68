"""Radius sweep (probe + cosine re-rank + precision@10): tutorial_lib against the naive loop."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from benchmarks import naive
from benchmarks.common import lsh_bits, median_time, synthetic_split
from tutorial_lib.evaluation import CosineReranker, label_hits, radius_sweep
from tutorial_lib.hashing import bits_to_keys
from tutorial_lib.index import HashIndex

N_BITS = 16
MAX_RADIUS = 10


WHY_SINGLE = (
    "Why a single query is not 10x faster at every small radius: there the naive loop "
    "itself takes only 0.4-2.3 ms, and one query's cost in tutorial_lib is bounded by "
    "reading its candidates' vectors cold from memory (a 2 KB float32 row costs about "
    "0.5-1 us under load, measured) plus about 1 us per numpy call (~25 per query: the "
    "probe, the principal-direction screening, the float32 scores, the float64 re-check "
    "only when near-ties make the float32 order uncertain). At r=1 (59 candidates, not "
    "worth screening) that is ~60 us; at r=2-3 the screening reads 128 bytes per "
    "candidate but still leaves ~100 full rows. From r=4 the screening's savings dominate "
    "and the ratio passes 10x. The batch sweep amortises the fixed costs over 120 queries "
    "and shares one score matrix across the large radii."
)


def run(quick: bool = False) -> dict:
    data = synthetic_split()
    db_bits, q_bits = lsh_bits(N_BITS)
    n_naive = 12 if quick else len(q_bits)  # quick: every 10th query
    subset = np.linspace(0, len(q_bits) - 1, n_naive).round().astype(int)

    # Baseline: the tutorial's loop over (radius, query), on the same codes.
    table = naive.build_table(db_bits)
    naive_rows = naive.radius_sweep(
        table,
        data.X_database,
        data.y_database,
        data.X_query[subset],
        data.y_query[subset],
        q_bits[subset],
        MAX_RADIUS,
    )

    index = HashIndex(N_BITS)
    index.add(db_bits)
    reranker = CosineReranker(data.X_database)
    args = (index, data.X_database, data.y_database, data.X_query, data.y_query, q_bits)

    _check_same_precision(index, reranker, data, q_bits, subset, naive_rows)

    # Whole sweep, all 120 queries per call (batch), median of repeats.
    def sweep():
        return radius_sweep(*args, max_radius=MAX_RADIUS, timing="batch", reranker=reranker)

    batch_seconds = median_time(sweep, repeats=3 if quick else 5)
    batch = sweep()
    single = radius_sweep(*args, max_radius=MAX_RADIUS, timing="single", reranker=reranker)
    if n_naive == len(q_bits):
        naive_mean = naive_rows.groupby("radius")["precision"].mean().to_numpy()
        assert np.allclose(naive_mean, batch["precision_at_10"]), "mean precision differs"

    per_radius = naive_rows.groupby("radius").agg(
        naive_ms=("seconds", lambda s: 1e3 * s.mean()),
        candidates=("candidates", "mean"),
    )
    table_rows = []
    for r in range(MAX_RADIUS + 1):
        naive_ms = per_radius.loc[r, "naive_ms"]
        single_ms = single.loc[r, "mean_query_ms"]
        batch_ms = batch.loc[r, "mean_query_ms"]
        table_rows.append(
            {
                "radius": r,
                "precision@10": round(batch.loc[r, "precision_at_10"], 4),
                "mean candidates": round(batch.loc[r, "mean_candidates"], 1),
                "naive ms/query": round(naive_ms, 3),
                "lib single ms/query": round(single_ms, 3),
                "lib batch ms/query": round(batch_ms, 4),
                "single speed-up": round(naive_ms / single_ms, 1),
                "batch speed-up": round(naive_ms / batch_ms, 1),
            }
        )
    df = pd.DataFrame(table_rows)
    # Whole sweep: naive total for all 120 queries (extrapolated from the
    # per-query means when only a subset ran) against one batch sweep.
    naive_total = per_radius["naive_ms"].sum() / 1e3 * len(q_bits)
    whole_ratio = naive_total / batch_seconds
    single_ok = bool((df["single speed-up"] >= 10).all())
    worst = df.loc[df["single speed-up"].idxmin()]
    checks = [
        (
            "whole sweep >= 100x faster (naive loop total vs radius_sweep(timing='batch') wall time)",
            f"{naive_total:.2f} s vs {batch_seconds:.3f} s = {whole_ratio:.0f}x",
            whole_ratio >= 100,
        ),
        (
            "every radius: single query >= 10x faster (radius_sweep(timing='single') vs naive per query)",
            f"min {worst['single speed-up']}x at r={int(worst['radius'])}",
            single_ok,
        ),
    ]
    notes = [
        f"Naive loop ran on {n_naive} of {len(q_bits)} queries"
        + (
            " (every ~10th); its whole-sweep time is the per-query means x 120 (extrapolated)."
            if n_naive < len(q_bits)
            else " (all of them); whole-sweep time is the sum of its measured per-query times."
        ),
        "Precision@10 per (query, radius) asserted identical between the naive loop and tutorial_lib.",
        f"radius_sweep(timing='batch') whole-sweep wall time: median of {3 if quick else 5} runs.",
        "'single' = each query searched and re-ranked alone (what one user sees); 'batch' = "
        "all 120 queries of a radius in one call, divided by 120.",
    ]
    if not single_ok:
        notes.append(WHY_SINGLE)
    return {
        "title": "1. Radius sweep: tutorial_lib vs the naive per-query loop (16 bits, 120 queries)",
        "tables": [("Per radius (ms per query; speed-up = naive / tutorial_lib)", df)],
        "checks": checks,
        "notes": notes,
        "plot": _plot(df),
    }


def _check_same_precision(index, reranker, data, q_bits, subset, naive_rows):
    qkeys = bits_to_keys(q_bits[subset])
    for r in range(MAX_RADIUS + 1):
        lims, _, ids = index.range_search_keys(qkeys, r, sort=False)
        top = reranker.top_k(data.X_query[subset], lims, ids, 10)
        ours = label_hits(top, data.y_database, data.y_query[subset]).sum(axis=1) / 10
        theirs = naive_rows[naive_rows["radius"] == r].sort_values("query")["precision"]
        if not np.array_equal(ours, theirs.to_numpy()):
            raise AssertionError(f"precision@10 differs from the naive loop at radius {r}")


def _plot(df):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(df["radius"], df["naive ms/query"], "o-", label="naive loop")
    ax.semilogy(df["radius"], df["lib single ms/query"], "s-", label="tutorial_lib, one query")
    ax.semilogy(df["radius"], df["lib batch ms/query"], "^-", label="tutorial_lib, batch / 120")
    ax.set_xlabel("Hamming radius")
    ax.set_ylabel("ms per query")
    ax.set_title("Radius sweep, 16-bit LSH, 58,682 items")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig, "sweep_time.png"


if __name__ == "__main__":
    t = time.time()
    out = run(quick=True)
    print(out["tables"][0][1].to_string(), out["checks"], time.time() - t)
