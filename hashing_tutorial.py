"""The whole LSH-versus-GRH comparison in one command, with results files and figures.

Loads a dataset (CIFAR-10 GIST when cached or downloadable, else scikit-learn's
digits, or any ``.mat`` file with ``X`` and ``X_class``), preprocesses and splits
it as MISSION.md describes, then for every method and code length: fits the
hasher on the training set, hashes the database into a :class:`HashIndex`,
sweeps the Hamming radius (probe, cosine re-rank, precision@10) and scores the
codes alone (mAP, precision within radius 2).

Writes to ``--out`` (default ``results/``): ``results.csv`` (one row per
method x n_bits x radius), ``summary.json`` and PNG figures.

Examples
--------
::

    python hashing_tutorial.py                      # CIFAR-10 GIST if available, else digits
    python hashing_tutorial.py --dataset digits --bits 8 16 32 --out results/digits
    python hashing_tutorial.py --data-file Gist512CIFAR10.mat --bits 16 32 64

Bad input (unknown dataset, unreadable file, impossible split, unwritable
``--out``, ...) exits with status 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from tutorial_lib import plotting
from tutorial_lib.data import (
    DataError,
    default_split_sizes,
    load_dataset,
    load_mat,
    preprocess,
    split,
)
from tutorial_lib.evaluation import (
    CosineReranker,
    brute_force_top_k,
    label_hits,
    mean_average_precision,
    precision_at_radius,
    radius_sweep,
)
from tutorial_lib.hashing import GRH, LSH, MAX_BITS, check_n_bits
from tutorial_lib.index import HashIndex

PROG = "hashing_tutorial.py"
#: MISSION.md: both train_test_split calls use random_state=42; --seed seeds the hashers.
SPLIT_RANDOM_STATE = 42
K = 10
RESULT_COLUMNS = [
    "method",
    "n_bits",
    "radius",
    f"precision_at_{K}",
    "nn_accuracy",
    "mean_candidates",
    "mean_query_ms",
]
#: Radii shown in the printed table (the CSV has every radius).
HEADLINE_RADII = (0, 2, 5, 10)
METHODS = ("lsh", "grh")
EXIT_BAD_INPUT = 2


class BadInput(Exception):
    """A problem with the user's input: reported in one line, exit status 2."""


# --------------------------------------------------------------------------- command line


class _Parser(argparse.ArgumentParser):
    """argparse, but its errors become :class:`BadInput` (one line, no usage block)."""

    def error(self, message):
        raise BadInput(f"{message} (see {PROG} --help)")


def _n_bits(text):
    try:
        return check_n_bits(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"code lengths must be integers between 1 and {MAX_BITS}, got {text!r}"
        ) from None


def _checked(convert, accept, what):
    """An argparse ``type``: ``convert(text)``, kept only if ``accept(value)``."""

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    return parse


_non_negative_int = _checked(int, lambda v: v >= 0, "a non-negative integer")
_fraction_0_1 = _checked(float, lambda v: 0.0 <= v <= 1.0, "a number between 0 and 1")
_seed = _checked(int, lambda v: 0 <= v < 2**32, "an integer between 0 and 2**32 - 1")


def _size(text):
    """A count (``120``) or a fraction (``0.002``); :func:`split` checks the range."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a count (e.g. 120) or a fraction between 0 and 1 (e.g. 0.002), got {text!r}"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface (also used to document the options)."""
    parser = _Parser(
        prog=PROG,
        description="Compare LSH and Graph Regularised Hashing for nearest-neighbour image "
        "retrieval: precision@10 against Hamming radius, query time, mAP, bucket sizes.",
        epilog="Writes results.csv, summary.json and PNG figures to --out. Bad input exits "
        "with status 2 and one line on stderr.",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--dataset",
        choices=("auto", "cifar10-gist", "digits"),
        default="auto",
        help="'auto' (default): CIFAR-10 GIST when cached or downloadable, else the bundled "
        "digits, with a notice saying why",
    )
    source.add_argument(
        "--data-file",
        type=Path,
        metavar="PATH.mat",
        help="any MATLAB .mat file holding X (n_items x n_features) and X_class (labels)",
    )
    parser.add_argument(
        "--bits",
        type=_n_bits,
        nargs="+",
        default=[16],
        metavar="N",
        help="code lengths, 1-64 (default: 16)",
    )
    parser.add_argument(
        "--max-radius",
        type=_non_negative_int,
        default=10,
        metavar="R",
        help="sweep Hamming radii 0..R, clipped to each code length (default: 10)",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=METHODS,
        default=list(METHODS),
        help="hashers to compare (default: lsh grh)",
    )
    parser.add_argument(
        "--grh-iterations",
        type=_non_negative_int,
        default=2,
        metavar="N",
        help="GRH iterations; 0 keeps the LSH start (default: 2)",
    )
    parser.add_argument(
        "--grh-alpha",
        type=_fraction_0_1,
        default=0.25,
        metavar="ALPHA",
        help="GRH weight of the neighbours' vote against an item's own bit (default: 0.25)",
    )
    parser.add_argument(
        "--query-size",
        type=_size,
        metavar="N_OR_FRACTION",
        help="queries: a count or a fraction of all rows (default: 0.002 when that gives "
        ">= 100 queries, as in the article, else 0.1)",
    )
    parser.add_argument(
        "--train-size",
        type=_size,
        metavar="N_OR_FRACTION",
        help="training items: a count or a fraction of the rows left after the queries "
        "(default: 0.02, or 0.25 for small datasets)",
    )
    parser.add_argument(
        "--seed",
        type=_seed,
        default=0,
        help="seeds the hashers; the split always uses 42 (default: 0)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("results"),
        metavar="DIR",
        help="output folder (default: results)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help="where CIFAR-10 GIST is cached (default: $TUTORIAL_LIB_DATA or the OS cache)",
    )
    parser.add_argument("--quiet", action="store_true", help="print only errors")
    return parser


# --------------------------------------------------------------------------- helpers


def _one_line(error) -> str:
    return " ".join(str(error).split())


@contextmanager
def _bad_input(prefix, *errors):
    """Turn the given exception types raised inside into :class:`BadInput`.

    Used only around the steps where user input can be at fault, so an
    unexpected bug elsewhere still shows its traceback.
    """
    try:
        yield
    except errors as error:
        raise BadInput(f"{prefix}{_one_line(error)}") from error


def _prepare_out_dir(out: Path) -> None:
    """Create ``out`` and prove it is writable before any long computation."""
    with _bad_input(f"cannot write results to --out {out}: ", OSError):
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass


def _load(args):
    with _bad_input("", DataError, OSError):
        if args.data_file is not None:
            return load_mat(args.data_file)
        return load_dataset(args.dataset, cache_dir=args.cache_dir, verbose=not args.quiet)


def _split(dataset, args):
    X = preprocess(dataset.X)  # L2-normalise rows, then mean-centre (MISSION.md)
    asked = ", ".join(
        f"--{name.replace('_', '-')} {value}"
        for name, value in (("query_size", args.query_size), ("train_size", args.train_size))
        if value is not None
    )
    with _bad_input(
        f"cannot split {dataset.name} ({dataset.n_items} items)"
        f"{f' with {asked}' if asked else ''}: ",
        ValueError,
    ):
        parts = split(X, dataset.y, args.query_size, args.train_size, SPLIT_RANDOM_STATE)
    if "grh" in args.methods and len(np.unique(parts.y_train)) < 2:
        raise BadInput(
            f"the training set holds a single class ({len(parts.y_train)} of "
            f"{dataset.n_items} items), so GRH has nothing to learn from; use a larger --train-size"
        )
    return parts


def _make_hasher(method, n_bits, args):
    if method == "lsh":
        return LSH(n_bits=n_bits, random_state=args.seed)
    return GRH(
        n_bits=n_bits,
        n_iter=args.grh_iterations,
        alpha=args.grh_alpha,
        random_state=args.seed,
        progress=False,
    )


def evaluate_run(method, n_bits, parts, args, reranker):
    """Fit one hasher, sweep the radius and score the codes.

    Returns
    -------
    sweep : pandas.DataFrame
        ``RESULT_COLUMNS``, one row per radius.
    scores : dict
        ``map``, ``precision_at_radius_2``, ``train_seconds`` and bucket statistics.
    index : HashIndex
        The database codes (for the bucket-size figure).
    """
    hasher = _make_hasher(method, n_bits, args)
    start = time.perf_counter()
    hasher.fit(parts.X_train, parts.y_train)  # LSH ignores the labels
    train_seconds = time.perf_counter() - start
    database_bits = hasher.transform(parts.X_database)
    query_bits = hasher.transform(parts.X_query)
    index = HashIndex(n_bits)
    index.add(database_bits)
    sweep = radius_sweep(
        index,
        parts.X_database,
        parts.y_database,
        parts.X_query,
        parts.y_query,
        query_bits,
        max_radius=min(args.max_radius, n_bits),
        k=K,
        reranker=reranker,
    )
    sweep.insert(0, "method", method)
    sweep.insert(1, "n_bits", n_bits)
    stats = index.bucket_stats()
    scores = {
        # Code-only measures, once per run (the sweep re-ranks; these do not).
        "map": mean_average_precision(database_bits, parts.y_database, query_bits, parts.y_query),
        "precision_at_radius_2": precision_at_radius(
            database_bits, parts.y_database, query_bits, parts.y_query, radius=min(2, n_bits)
        ),
        "train_seconds": train_seconds,
        "n_buckets": stats["n_buckets"],
        "mean_bucket_size": stats["mean_size"],
        "max_bucket_size": stats["max_size"],
    }
    return sweep[RESULT_COLUMNS], scores, index


def _brute_force(parts):
    top = brute_force_top_k(parts.X_database, parts.X_query, K)
    hits = label_hits(top, parts.y_database, parts.y_query)
    return float(hits.sum(axis=1).mean() / K), float(hits[:, 0].mean())


def _config(args):
    config = {}
    for key, value in vars(args).items():
        config[key] = str(value) if isinstance(value, Path) else value
    config["split_random_state"] = SPLIT_RANDOM_STATE
    config["k"] = K
    return config


def _figure():
    # A pyplot-free Figure renders with Agg on savefig and leaves no global
    # state behind, so main() can run many times in one process (tests).
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    return fig, fig.subplots()


def write_figures(out, results, summary_df, brute_force, first_indexes):
    """Save the PNG figures; returns their paths."""
    paths = []

    def save(fig, name):
        path = out / name
        fig.savefig(path, dpi=120)
        paths.append(path)

    for n_bits in results["n_bits"].unique():
        fig, ax = _figure()
        rows = results[results["n_bits"] == n_bits]
        plotting.plot_precision_vs_radius(rows, ax=ax, brute_force=brute_force)
        save(fig, f"precision_vs_radius_{n_bits}bits.png")
    fig, ax = _figure()
    plotting.plot_query_time_vs_radius(results, ax=ax)
    save(fig, "query_time_vs_radius.png")
    fig, ax = _figure()
    plotting.plot_map_vs_bits(summary_df, ax=ax)
    save(fig, "map_vs_bits.png")
    n_bits, indexes = first_indexes
    fig, ax = _figure()
    labels = {plotting.METHOD_LABELS.get(m, m): index for m, index in indexes.items()}
    plotting.plot_bucket_sizes(labels, ax=ax, title=f"Bucket sizes, {n_bits}-bit codes")
    save(fig, f"bucket_sizes_{n_bits}bits.png")
    return paths


def format_table(results, summary_df, brute_force) -> str:
    """The headline numbers: precision@10 at a few radii, and mAP."""
    column = f"precision_at_{K}"
    header = ["method", "bits", *(f"P@10 r={r}" for r in HEADLINE_RADII), "mAP", "train s"]
    lines = []
    for row in summary_df.itertuples(index=False):
        sweep = results[(results["method"] == row.method) & (results["n_bits"] == row.n_bits)]
        by_radius = dict(zip(sweep["radius"], sweep[column], strict=True))
        cells = [plotting.METHOD_LABELS.get(row.method, row.method), str(row.n_bits)]
        cells += [f"{by_radius[r]:.3f}" if r in by_radius else "-" for r in HEADLINE_RADII]
        cells += [f"{row.map:.3f}", f"{row.train_seconds:.2f}"]
        lines.append(cells)
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]

    def fmt(cells):
        first = cells[0].ljust(widths[0])
        return "  ".join([first, *(c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))])

    text = [fmt(header), fmt(["-" * w for w in widths]), *(fmt(line) for line in lines)]
    text.append(f"brute-force cosine precision@10: {brute_force:.3f}  ('-': radius not swept)")
    return "\n".join(text)


# --------------------------------------------------------------------------- main


def run(args) -> int:
    """Run the comparison for parsed arguments; raises :class:`BadInput`."""
    started = time.perf_counter()
    say = (lambda *a, **k: None) if args.quiet else print
    methods = list(dict.fromkeys(args.methods))
    bits = list(dict.fromkeys(args.bits))
    args.methods, args.bits = methods, bits

    _prepare_out_dir(args.out)
    dataset = _load(args)
    say(
        f"Dataset: {dataset.name} ({dataset.n_items} items x {dataset.n_features} features, "
        f"{dataset.n_classes} classes) from {dataset.source}"
    )
    parts = _split(dataset, args)
    sizes = parts.sizes
    say(
        f"Split (random_state={SPLIT_RANDOM_STATE}): {sizes['n_query']} queries, "
        f"{sizes['n_train']} training items, {sizes['n_database']} database items"
    )

    reranker = CosineReranker(parts.X_database)  # database only: shared by every run
    bf_precision, bf_nn_accuracy = _brute_force(parts)
    sweeps, scores, first_indexes = [], {}, {}
    with tqdm(total=len(methods) * len(bits), unit="run", disable=args.quiet) as bar:
        for n_bits in bits:
            for method in methods:
                bar.set_description(f"{method.upper()} {n_bits} bits")
                sweep, run_scores, index = evaluate_run(method, n_bits, parts, args, reranker)
                sweeps.append(sweep)
                scores.setdefault(method, {})[str(n_bits)] = run_scores
                if n_bits == bits[0]:
                    first_indexes[method] = index
                bar.update()
    results = pd.concat(sweeps, ignore_index=True)
    results = results.sort_values(
        ["method", "n_bits", "radius"],
        key=lambda s: s.map(methods.index) if s.name == "method" else s,
        kind="stable",
    ).reset_index(drop=True)
    summary_df = pd.DataFrame(
        [{"method": m, "n_bits": b, **scores[m][str(b)]} for m in methods for b in sorted(bits)]
    )

    query_size, train_size = default_split_sizes(dataset.n_items)
    summary = {
        "dataset": {
            "name": dataset.name,
            "source": dataset.source,
            "n_items": dataset.n_items,
            "n_features": dataset.n_features,
            "n_classes": dataset.n_classes,
        },
        "split": {
            **sizes,
            "query_size": query_size if args.query_size is None else args.query_size,
            "train_size": train_size if args.train_size is None else args.train_size,
            "random_state": SPLIT_RANDOM_STATE,
        },
        "config": _config(args),
        "brute_force_precision_at_10": bf_precision,
        "brute_force_nn_accuracy": bf_nn_accuracy,
        "methods": scores,
        "total_seconds": None,
    }
    with _bad_input(f"cannot write results to --out {args.out}: ", OSError):
        results.to_csv(args.out / "results.csv", index=False)
        figures = write_figures(
            args.out, results, summary_df, bf_precision, (bits[0], first_indexes)
        )
        summary["total_seconds"] = time.perf_counter() - started
        (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")

    say()
    say(format_table(results, summary_df, bf_precision))
    say()
    say(f"Wrote {args.out / 'results.csv'}, {args.out / 'summary.json'} and")
    say("      " + ", ".join(path.name for path in figures))
    say(f"in {summary['total_seconds']:.1f} s.")
    return 0


def main(argv=None) -> int:
    """Entry point; returns the exit status (0, or 2 for bad input)."""
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exit_:  # --help: argparse printed it and wants to exit
            return exit_.code if isinstance(exit_.code, int) else 0
        return run(args)
    except BadInput as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
