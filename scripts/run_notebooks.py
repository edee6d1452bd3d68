"""Re-execute the tutorial notebooks in place and report each one's run time.

By default the run is offline, exactly as the tests run it: ``TUTORIAL_LIB_OFFLINE=1``
and an empty data cache, so ``DATASET = "auto"`` gives the bundled digits and the
stored outputs match what ``pytest`` (nbval) recomputes. Commit notebooks executed
this way.

    python scripts/run_notebooks.py                       # all notebooks/NN_*.ipynb
    python scripts/run_notebooks.py notebooks/02_lsh.ipynb
    python scripts/run_notebooks.py --readme              # also update the run times in notebooks/README.md
    python scripts/run_notebooks.py --dataset cifar10-gist --no-write   # a real run, outputs not saved
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
README = NOTEBOOK_DIR / "README.md"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "notebooks", nargs="*", type=Path, help="default: notebooks/[0-9][0-9]_*.ipynb"
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds per cell (default 600)")
    parser.add_argument("--kernel", default="python3", help="Jupyter kernel name (default python3)")
    parser.add_argument(
        "--dataset",
        default=None,
        help="set TUTORIAL_DATASET and allow downloads (default: offline, bundled digits)",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="execute only; leave the files as they are"
    )
    parser.add_argument(
        "--readme",
        action="store_true",
        help="write the measured run times into notebooks/README.md",
    )
    return parser.parse_args(argv)


def offline_environment():
    """The environment of the test run (see conftest.py): offline, empty cache, digits."""
    cache = Path(tempfile.gettempdir()) / "tutorial_lib_notebook_cache"
    cache.mkdir(exist_ok=True)
    if any(cache.iterdir()):
        raise SystemExit(
            f"{cache} should be empty (it stands for 'nothing cached'); delete its contents"
        )
    os.environ["TUTORIAL_LIB_OFFLINE"] = "1"
    os.environ["TUTORIAL_LIB_DATA"] = str(cache)
    os.environ.pop("TUTORIAL_DATASET", None)


def run(path: Path, timeout: float, kernel: str):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel,
        record_timing=False,  # no timestamps in the stored notebook: smaller diffs
        resources={"metadata": {"path": str(path.parent)}},  # run with the notebook's folder as cwd
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    return nb, seconds


def update_readme(times: dict[str, float]) -> None:
    text = README.read_text()
    for stem, seconds in times.items():
        # Table rows look like "| [01_data_loading.ipynb](01_data_loading.ipynb) | ... | 12 s |".
        pattern = re.compile(rf"^(\| \[{re.escape(stem)}\.ipynb\].*\| )[^|]*(\|)\s*$", re.MULTILINE)
        text, n = pattern.subn(rf"\g<1>{seconds:.0f} s \g<2>", text)
        if n != 1:
            print(f"warning: no README table row for {stem}", file=sys.stderr)
    README.write_text(text)


def main(argv=None) -> int:
    args = parse_args(argv)
    paths = args.notebooks or sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise SystemExit(f"no notebooks found in {NOTEBOOK_DIR}")
    if args.dataset is None:
        offline_environment()
    else:
        os.environ["TUTORIAL_DATASET"] = args.dataset
    times = {}
    for path in paths:
        print(f"{path.name:32s}", end=" ", flush=True)
        try:
            nb, seconds = run(path, args.timeout, args.kernel)
        except CellExecutionError as error:
            print("FAILED")
            print(error, file=sys.stderr)
            return 1
        times[path.stem] = seconds
        print(f"{seconds:6.1f} s")
        if not args.no_write:
            nbformat.write(nb, path)
    print(f"{'total':32s} {sum(times.values()):6.1f} s")
    if args.readme:
        update_readme(times)
    return 0


if __name__ == "__main__":
    sys.exit(main())
