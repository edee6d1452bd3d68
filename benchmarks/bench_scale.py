"""Scale: range-search time against database size, next to a linear scan; index memory."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pandas as pd

from benchmarks.common import median_time
from tutorial_lib.index import HashIndex

SIZES = (10_000, 30_000, 100_000, 300_000, 1_000_000)
QUICK_SIZES = (10_000, 100_000)
BITS = (16, 32)
RADII = (0, 2)
N_QUERIES = 100


def uniform_keys(n, n_bits, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2**n_bits, n, dtype=np.uint64)


def linear_scan(qkeys, keys, radius):
    """The obvious baseline: one np.bitwise_count pass over every key per query."""
    return [np.flatnonzero(np.bitwise_count(keys ^ q) <= radius) for q in qkeys]


def run(quick: bool = False) -> dict:
    sizes = QUICK_SIZES if quick else SIZES
    repeats = 3 if quick else 5
    rows, mem_rows = [], []
    for n_bits in BITS:
        qkeys = uniform_keys(N_QUERIES, n_bits, seed=99)
        for n in sizes:
            keys = uniform_keys(n, n_bits, seed=n)
            index, peak, retained, build_s = _build_measured(keys, n_bits)
            mem_rows.append(
                {
                    "bits": n_bits,
                    "codes": n,
                    "build s": round(build_s, 3),
                    "peak bytes/code": round(peak / n, 1),
                    "retained bytes/code": round(retained / n, 1),
                    "peak MB per 1M codes": round(peak / n * 1e6 / 2**20, 1),
                }
            )
            for radius in RADII:
                t_index = median_time(index.range_search_keys, qkeys, radius, repeats=repeats)
                t_scan = median_time(linear_scan, qkeys, keys, radius, repeats=repeats)
                lims, _, ids = index.range_search_keys(qkeys, radius)
                expected = linear_scan(qkeys, keys, radius)
                assert all(
                    np.array_equal(np.sort(ids[lims[i] : lims[i + 1]]), e)
                    for i, e in enumerate(expected)
                ), "index and scan disagree"
                rows.append(
                    {
                        "bits": n_bits,
                        "codes": n,
                        "radius": radius,
                        "plan": index.plan(radius).strategy,
                        "index ms/query": 1e3 * t_index / N_QUERIES,
                        "scan ms/query": 1e3 * t_scan / N_QUERIES,
                        "scan / index": t_scan / t_index,
                        "mean results": len(ids) / N_QUERIES,
                    }
                )
    df = pd.DataFrame(rows)
    for col in ("index ms/query", "scan ms/query"):
        df[col] = df[col].round(4)
    df["scan / index"] = df["scan / index"].round(1)
    df["mean results"] = df["mean results"].round(2)
    mem = pd.DataFrame(mem_rows)
    checks = []
    for (n_bits, radius), part in df.groupby(["bits", "radius"]):
        small, large = part.iloc[0], part.iloc[-1]
        growth = large["index ms/query"] / small["index ms/query"]
        size_ratio = large["codes"] / small["codes"]
        # When the answer itself grows with the database (dense 16-bit tables),
        # any exact method is output-bound: compare time per result as well.
        out_growth = large["mean results"] / small["mean results"] if small["mean results"] else 0
        output_bound = small["mean results"] >= 1 and out_growth > size_ratio / 2
        checks.append(
            (
                f"sub-linear growth, {n_bits} bits, r={radius}",
                f"{size_ratio:.0f}x codes -> index time x{growth:.1f}, "
                f"linear scan x{large['scan ms/query'] / small['scan ms/query']:.1f}"
                + (f"; results per query x{out_growth:.0f} (output-bound)" if output_bound else ""),
                _verdict(growth, size_ratio, output_bound, out_growth),
            )
        )
    notes = [
        f"Uniform random codes, {N_QUERIES} uniform random queries in one call (index) or a "
        f"per-query loop (scan), ms per query, median of {repeats} runs; results asserted equal.",
        "Memory: tracemalloc peak while building the index from the keys (sorted-key table, "
        "direct-address table for <= 22 bits, substring tables for 32 bits), per code; "
        "'retained' is what stays allocated after the build.",
    ]
    return {
        "title": "3. Scale: query time vs database size (uniform codes) and index memory",
        "tables": [("Range search time", df), ("Index memory", mem)],
        "checks": checks,
        "notes": notes,
        "plot": _plot(df),
    }


def _build_measured(keys, n_bits):
    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    index = HashIndex(n_bits)
    index.add_keys(keys)
    _ = index.table
    if n_bits > 22:
        _ = index.substring_tables
    build_s = time.perf_counter() - start
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return index, peak - before, current - before, build_s


def _plot(df):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for (n_bits, radius), part in df.groupby(["bits", "radius"]):
        ax.loglog(part["codes"], part["index ms/query"], "o-", label=f"index {n_bits}b r={radius}")
    for n_bits, part in df[df["radius"] == 0].groupby("bits"):
        ax.loglog(part["codes"], part["scan ms/query"], "k--", alpha=0.5, label=f"scan {n_bits}b")
    ax.set_xlabel("database codes")
    ax.set_ylabel("ms per query")
    ax.set_title("Range search vs linear scan")
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig, "scale.png"


if __name__ == "__main__":
    out = run(quick=True)
    for cap, d in out["tables"]:
        print(cap)
        print(d.to_string())
    print(out["checks"])


def _verdict(growth, size_ratio, output_bound, out_growth):
    """True when sub-linear; said plainly when the answer's own growth is the limit."""
    if growth < size_ratio / 2:
        return True
    if output_bound and growth < 1.5 * out_growth:
        return "**NO**, output-bound: time grows with the number of results returned"
    return False
