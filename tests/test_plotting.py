"""Each plotting function returns a Figure that saves to a non-empty PNG."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from tutorial_lib.hashing import LSH
from tutorial_lib.index import HashIndex
from tutorial_lib.plotting import (
    plot_bucket_sizes,
    plot_map_vs_bits,
    plot_precision_vs_radius,
    plot_query_time_vs_radius,
)

SWEEP = pd.DataFrame(
    [
        {
            "method": method,
            "n_bits": 16,
            "radius": radius,
            "precision_at_10": min(1.0, 0.1 * (radius + 1) + shift),
            "nn_accuracy": 0.5,
            "mean_candidates": 2.0**radius,
            "mean_query_ms": 0.01 * 2**radius,
        }
        for method, shift in (("lsh", 0.0), ("grh", 0.1))
        for radius in range(6)
    ]
)
SUMMARY = pd.DataFrame(
    {"method": ["lsh", "lsh", "grh", "grh"], "n_bits": [16, 32] * 2, "map": [0.2, 0.25, 0.3, 0.4]}
)


def _index():
    X = np.random.default_rng(0).standard_normal((500, 8))
    index = HashIndex(6)
    index.add(LSH(n_bits=6, random_state=0).fit(X).transform(X))
    return index


PLOTS = {
    "precision": lambda ax: plot_precision_vs_radius(SWEEP, ax=ax, brute_force=0.7),
    "query_time": lambda ax: plot_query_time_vs_radius(SWEEP, ax=ax),
    "map": lambda ax: plot_map_vs_bits(SUMMARY, ax=ax),
    "buckets_index": lambda ax: plot_bucket_sizes(_index(), ax=ax),
    "buckets_mapping": lambda ax: plot_bucket_sizes({"LSH": _index(), "sizes": [1, 1, 3]}, ax=ax),
}


@pytest.mark.parametrize("name", PLOTS)
def test_returns_figure_and_writes_png(name, tmp_path):
    fig = PLOTS[name](None)  # a new pyplot figure
    try:
        assert isinstance(fig, Figure)
        ax = fig.axes[0]
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
        fig.savefig(tmp_path / "plot.png")
    finally:
        plt.close(fig)
    assert (tmp_path / "plot.png").read_bytes()[:4] == b"\x89PNG"


def test_draws_on_a_given_axes():
    ax = Figure().subplots()
    fig = plot_precision_vs_radius(SWEEP, ax=ax, brute_force=0.7)
    assert fig is ax.figure
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["LSH", "GRH", "brute force (0.700)"]


def test_missing_column_is_named():
    with pytest.raises(ValueError, match="missing precision_at_10"):
        plot_precision_vs_radius(SWEEP.drop(columns="precision_at_10"))
