"""Time ``hashing_tutorial.py`` end to end against its run-time targets.

Two runs, each a fresh subprocess (so imports and data loading count, as a
user would see them), offline and with an empty data cache:

(a) the default run, which falls back to the bundled digits (target < 30 s);
(b) a synthetic CIFAR-10-sized file, 60,000 x 512, 10 classes, with
    ``--bits 16 32 64`` (target < 180 s on 2 cores).

Usage::

    python benchmarks/bench_script.py            # full size
    python benchmarks/bench_script.py --quick    # 6,000 x 512: a smoke test of the bench itself

Prints a markdown table; ``run(quick=False)`` returns its rows as dicts.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.io

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "hashing_tutorial.py"

N_ITEMS, N_FEATURES, N_CLASSES = 60_000, 512, 10
QUICK_N_ITEMS = 6_000
DIGITS_TARGET_SECONDS = 30.0
SYNTHETIC_TARGET_SECONDS = 180.0


def write_synthetic_mat(path, n_items=N_ITEMS, n_features=N_FEATURES, n_classes=N_CLASSES, seed=0):
    """Gaussian clusters, one per class, saved as ``X`` and ``X_class`` (1 x n) like the GIST file.

    The clusters overlap (centre spread 1, noise 3 per feature before the
    script's normalisation) so retrieval is neither trivial nor hopeless.
    """
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, n_features))
    y = rng.integers(0, n_classes, n_items)
    X = centres[y] + 3.0 * rng.standard_normal((n_items, n_features))
    scipy.io.savemat(path, {"X": X, "X_class": y[None, :].astype(np.float64)})
    return path


def _time_script(args, env, cwd):
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--quiet"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(
            f"hashing_tutorial.py {' '.join(args)} failed with status {result.returncode}:\n"
            f"{result.stderr}"
        )
    return seconds


def run(quick=False) -> list[dict]:
    """Run both timings; one dict per run: ``name``, ``args``, ``seconds``, ``target_seconds``, ``ok``."""
    n_items = QUICK_N_ITEMS if quick else N_ITEMS
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_script_") as tmp:
        tmp = Path(tmp)
        env = dict(os.environ)
        env["TUTORIAL_LIB_OFFLINE"] = "1"  # predictable: no download attempt, digits fallback
        env["TUTORIAL_LIB_DATA"] = str(tmp / "cache")
        env["MPLBACKEND"] = "Agg"
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))

        mat = write_synthetic_mat(tmp / "synthetic.mat", n_items=n_items)
        runs = [
            ("default run (digits)", ["--out", str(tmp / "digits")], DIGITS_TARGET_SECONDS),
            (
                f"synthetic {n_items:,} x {N_FEATURES}, --bits 16 32 64",
                ["--data-file", str(mat), "--bits", "16", "32", "64", "--out", str(tmp / "synth")],
                SYNTHETIC_TARGET_SECONDS,
            ),
        ]
        for name, args, target in runs:
            seconds = _time_script(args, env, tmp)
            rows.append(
                {
                    "name": name,
                    "args": " ".join(
                        a if not a.startswith(str(tmp)) else Path(a).name for a in args
                    ),
                    "seconds": seconds,
                    "target_seconds": target,
                    "ok": seconds < target,
                }
            )
    return rows


def markdown_table(rows) -> str:
    lines = ["| run | seconds | target | ok |", "| --- | ---: | ---: | :---: |"]
    for row in rows:
        lines.append(
            f"| {row['name']} | {row['seconds']:.1f} | < {row['target_seconds']:.0f} "
            f"| {'yes' if row['ok'] else 'NO'} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6,000 items instead of 60,000")
    args = parser.parse_args(argv)
    rows = run(quick=args.quick)
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}")
    print(markdown_table(rows))
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
