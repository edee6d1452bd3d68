"""The figures the notebooks and ``hashing_tutorial.py`` share.

Every function draws on ``ax`` when one is given (so several plots can share
a figure, or a script can draw on a pyplot-free ``matplotlib.figure.Figure``)
and otherwise opens a new pyplot figure; either way it returns the Figure.
pyplot is imported only when a new figure is needed, so importing this module
does no work and never picks a backend.

The data frames are the ones :func:`tutorial_lib.evaluation.radius_sweep`
returns, with ``method`` and ``n_bits`` columns added when several runs are
stacked (as in ``hashing_tutorial.py``'s ``results.csv``). Explained in
``notebooks/04_hamming_search.ipynb`` and ``notebooks/06_comparison.ipynb``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = [
    "METHOD_LABELS",
    "plot_bucket_sizes",
    "plot_map_vs_bits",
    "plot_precision_vs_radius",
    "plot_query_time_vs_radius",
]

#: Display names for the method column; anything else is shown as given.
METHOD_LABELS = {"lsh": "LSH", "grh": "GRH"}


def _axes(ax, figsize=(6.4, 4.4)):
    """``ax`` and its Figure, or a new pyplot figure with one axes."""
    if ax is None:
        import matplotlib.pyplot as plt  # lazily: importing the module must not pick a backend

        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
        return fig, ax
    return ax.figure, ax


def _check_columns(df, needed, what):
    missing = [column for column in needed if column not in df.columns]
    if missing:
        raise ValueError(
            f"{what} needs columns {', '.join(needed)}; missing {', '.join(missing)} "
            f"(got {', '.join(map(str, df.columns))})"
        )


def _runs(df):
    """``(label, rows)`` per (method, n_bits) run, in order of first appearance."""
    keys = [column for column in ("method", "n_bits") if column in df.columns]
    if not keys:
        return [(None, df)]
    several_lengths = "n_bits" in df.columns and df["n_bits"].nunique() > 1
    runs = []
    for key, rows in df.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        values = dict(zip(keys, key, strict=True))
        parts = []
        if "method" in values:
            parts.append(METHOD_LABELS.get(values["method"], str(values["method"])))
        if "n_bits" in values and (several_lengths or "method" not in values):
            parts.append(f"{values['n_bits']} bits")
        runs.append((" ".join(parts), rows.sort_values("radius")))
    return runs


def _bits_suffix(df):
    if "n_bits" in df.columns and df["n_bits"].nunique() == 1:
        return f", {int(df['n_bits'].iloc[0])}-bit codes"
    return ""


def plot_precision_vs_radius(df, ax=None, brute_force=None, k=10):
    """Mean precision@k against the Hamming radius, one line per run.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``radius`` and ``precision_at_{k}``; optional ``method`` and
        ``n_bits`` give one line per (method, code length).
    ax : matplotlib.axes.Axes, optional
        Draw here; default: a new figure.
    brute_force : float, optional
        Precision@k of an exhaustive cosine search, drawn as a dashed line:
        the value every method reaches once the radius covers the whole database.
    k : int, default=10

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> from matplotlib.figure import Figure
    >>> df = pd.DataFrame({"radius": [0, 1, 2], "precision_at_10": [0.2, 0.4, 0.5]})
    >>> fig = plot_precision_vs_radius(df, ax=Figure().subplots(), brute_force=0.55)
    >>> fig.axes[0].get_ylabel()
    'mean precision@10'
    """
    column = f"precision_at_{k}"
    _check_columns(df, ("radius", column), "plot_precision_vs_radius")
    fig, ax = _axes(ax)
    for label, rows in _runs(df):
        ax.plot(rows["radius"], rows[column], marker="o", label=label)
    if brute_force is not None:
        ax.axhline(
            brute_force, color="0.3", linestyle="--", label=f"brute force ({brute_force:.3f})"
        )
    ax.set_xlabel("Hamming radius r (buckets within r bits are probed)")
    ax.set_ylabel(f"mean precision@{k}")
    ax.set_title(f"Precision@{k} after cosine re-ranking{_bits_suffix(df)}")
    ax.set_ylim(0, 1.02)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[1]:
        ax.legend()
    return fig


def plot_query_time_vs_radius(df, ax=None):
    """Mean time per query (probe + re-rank) against the Hamming radius.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``radius`` and ``mean_query_ms``; optional ``method`` and
        ``n_bits`` give one line per (method, code length).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
        The y axis is logarithmic: times grow by orders of magnitude with r.
    """
    _check_columns(df, ("radius", "mean_query_ms"), "plot_query_time_vs_radius")
    fig, ax = _axes(ax)
    for label, rows in _runs(df):
        ax.plot(rows["radius"], rows["mean_query_ms"], marker="o", label=label)
    if (df["mean_query_ms"] > 0).all():
        ax.set_yscale("log")
    ax.set_xlabel("Hamming radius r")
    ax.set_ylabel("mean time per query (ms)")
    ax.set_title(f"Query time against radius{_bits_suffix(df)}")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3, which="both")
    if ax.get_legend_handles_labels()[1]:
        ax.legend()
    return fig


def plot_map_vs_bits(summary_df, ax=None):
    """Mean average precision (Hamming ranking) against the code length.

    Parameters
    ----------
    summary_df : pandas.DataFrame
        Columns ``n_bits`` and ``map``; optional ``method``, one line each.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    _check_columns(summary_df, ("n_bits", "map"), "plot_map_vs_bits")
    fig, ax = _axes(ax)
    groups = (
        summary_df.groupby("method", sort=False) if "method" in summary_df else [(None, summary_df)]
    )
    for method, rows in groups:
        rows = rows.sort_values("n_bits")
        label = None if method is None else METHOD_LABELS.get(method, str(method))
        ax.plot(rows["n_bits"], rows["map"], marker="o", label=label)
    bits = np.unique(summary_df["n_bits"].to_numpy())
    if len(bits) > 1 and bits.min() > 0 and bits.max() / bits.min() >= 4:
        ax.set_xscale("log", base=2)  # code lengths usually double: 16, 32, 64
    ax.set_xticks(bits, [str(int(b)) for b in bits])
    ax.set_xlabel("code length (bits)")
    ax.set_ylabel("mAP (Hamming ranking)")
    ax.set_title("Mean average precision against code length")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[1]:
        ax.legend()
    return fig


def _sizes_of(index_or_sizes):
    sizes = getattr(index_or_sizes, "bucket_sizes", None)
    sizes = sizes() if callable(sizes) else index_or_sizes
    sizes = np.asarray(sizes)
    if sizes.ndim != 1 or (sizes.size and (sizes.min() < 1 or sizes.dtype.kind not in "iu")):
        raise ValueError(
            "bucket sizes must be a 1-D array of positive integers or a HashIndex, "
            f"got {sizes.dtype} array of shape {sizes.shape}"
        )
    return sizes


def plot_bucket_sizes(index_or_sizes, ax=None, title=None):
    """Histogram of bucket sizes: how many buckets hold 1, 2, ... items.

    Parameters
    ----------
    index_or_sizes : HashIndex, array-like of int, or mapping
        An index (its :meth:`~tutorial_lib.index.HashIndex.bucket_sizes` are
        used), the sizes themselves, or ``{label: index_or_sizes}`` to overlay
        several methods.
    ax : matplotlib.axes.Axes, optional
    title : str, optional
        Default: "Bucket sizes", with the code length when an index is given.

    Returns
    -------
    matplotlib.figure.Figure
        Logarithmic bins and axes: most buckets are tiny, a few are huge.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> fig = plot_bucket_sizes({"LSH": [1, 1, 2, 40], "GRH": [3, 5, 36]}, ax=Figure().subplots())
    >>> [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
    ['LSH: 4 buckets, mean 11.0, max 40', 'GRH: 3 buckets, mean 14.7, max 36']
    """
    named = index_or_sizes if isinstance(index_or_sizes, Mapping) else {None: index_or_sizes}
    sizes = {label: _sizes_of(value) for label, value in named.items()}
    fig, ax = _axes(ax)
    largest = max((int(s.max()) for s in sizes.values() if s.size), default=1)
    bins = np.unique(np.geomspace(1, largest + 1, num=min(30, largest + 1)).astype(int))
    if len(bins) < 2:
        bins = np.array([1, 2])
    for label, values in sizes.items():
        stats = (
            f"{len(values)} buckets, mean {values.mean():.1f}, max {values.max()}"
            if values.size
            else "no buckets"
        )
        ax.hist(
            values,
            bins=bins,
            histtype="step",
            linewidth=1.8,
            label=stats if label is None else f"{label}: {stats}",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("bucket size (items in the bucket)")
    ax.set_ylabel("number of buckets")
    if title is None:
        n_bits = {getattr(v, "n_bits", None) for v in named.values()} - {None}
        title = "Bucket sizes" + (f", {n_bits.pop()}-bit codes" if len(n_bits) == 1 else "")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return fig
