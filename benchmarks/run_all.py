"""Run every benchmark and write ``benchmarks/RESULTS.md`` and PNG plots.

Usage (from the repository root)::

    python benchmarks/run_all.py            # full run, under 10 minutes on 2 cores
    python benchmarks/run_all.py --quick    # smoke run, about a minute

Each section lives in its own module exposing ``run(quick=False)``: ours return
a dict of tables, checks and a plot; ``bench_grh`` and ``bench_script`` (written
separately) return a list of row dicts and are included when importable.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run as a script from a fresh checkout

from benchmarks.common import machine  # noqa: E402

SECTIONS = [
    ("bench_sweep", None),
    ("bench_faiss", None),
    ("bench_scale", None),
    ("bench_grh", "4. GRH training time against training-set size and code length"),
    ("bench_mih", None),
    ("bench_script", "6. hashing_tutorial.py end to end"),
]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run, about a minute")
    parser.add_argument("--only", nargs="*", help="run only these modules (e.g. bench_faiss)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = []
    for name, title in SECTIONS:
        if args.only and name not in args.only:
            continue
        print(f"== {name} ...", flush=True)
        t0 = time.perf_counter()
        results.append(_run_section(name, title, args.quick))
        results[-1]["seconds"] = time.perf_counter() - t0
        print(f"   done in {results[-1]['seconds']:.1f} s", flush=True)
    total = time.perf_counter() - started
    command = "python benchmarks/run_all.py" + (" --quick" if args.quick else "")
    text = render(results, command, total)
    out = HERE / ("RESULTS_quick.md" if args.quick else "RESULTS.md")
    out.write_text(text)
    print(f"wrote {out} ({total:.0f} s)")
    return 0


def _run_section(name, title, quick):
    try:
        module = importlib.import_module(f"benchmarks.{name}")
    except Exception as error:  # a missing or broken module must not stop the others
        return {
            "title": title or name,
            "missing": f"`benchmarks/{name}.py` is not importable: {type(error).__name__}: {error}",
        }
    try:
        out = module.run(quick=quick)
    except Exception:
        return {"title": title or name, "error": traceback.format_exc()}
    if isinstance(out, list):  # bench_grh / bench_script: rows as dicts
        import pandas as pd

        return {"title": title, "tables": [("", pd.DataFrame(out))], "checks": [], "notes": []}
    if out.get("plot") is not None:
        fig, file_name = out["plot"]
        fig.savefig(HERE / file_name, dpi=110)
        out["plot_file"] = file_name
        import matplotlib.pyplot as plt

        plt.close(fig)
    return out


def render(results, command, total) -> str:
    info = machine()
    lines = [
        "# Benchmarks",
        "",
        f"Command: `{command}` (from the repository root). Date: {info['date']}. "
        f"Total run time: {total:.0f} s.",
        "",
        f"Machine: {info['nproc']} cores (`nproc`), shared and noisy (other jobs ran at the same "
        f"time), Python {info['python']}, numpy {info['numpy']}, faiss {info['faiss']}, "
        f"{info['platform']}.",
        "",
        "All times are medians of repeated runs; every ratio compares numbers measured side by "
        "side in the same run. Data: synthetic 60,000 x 512 Gaussian clusters, 10 classes, "
        "L2-normalised and mean-centred, split 120 / 1,198 / 58,682 with `tutorial_lib.data.split` "
        "(see `benchmarks/common.py`).",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    for res in results:
        for target, measured, met in res.get("checks", []):
            verdict = met if isinstance(met, str) else ("yes" if met else "**NO**")
            lines.append(f"| {target} | {measured} | {verdict} |")
    for res in results:
        lines += ["", f"## {res['title']}", ""]
        if "seconds" in res:
            lines += [f"_Section run time: {res['seconds']:.0f} s._", ""]
        if "missing" in res:
            lines += [f"Missing: {res['missing']}", ""]
            continue
        if "error" in res:
            lines += ["Failed:", "", "```", res["error"].rstrip(), "```", ""]
            continue
        for caption, df in res["tables"]:
            if caption:
                lines += [f"**{caption}**", ""]
            lines += [markdown_table(df), ""]
        for note in res.get("notes", []):
            lines.append(f"- {note}")
        if res.get("plot_file"):
            lines += ["", f"![{res['title']}]({res['plot_file']})"]
    return "\n".join(lines) + "\n"


def markdown_table(df) -> str:
    """A pipe table (pandas' to_markdown needs the optional tabulate package)."""
    header = "| " + " | ".join(str(c) for c in df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value).replace("|", "/").replace("\n", " ")


if __name__ == "__main__":
    raise SystemExit(main())
