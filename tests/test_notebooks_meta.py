"""Structure of the tutorial notebooks (their outputs are checked by nbval, see notebooks/README.md).

Fast and kernel-free: reads the .ipynb files and checks that each has its title, "what
you will learn", Colab badge, the shared setup cell, a "Try it" exercise with a hidden
answer, at least one figure, and stored outputs from one clean top-to-bottom run.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
EXPECTED = [
    "01_data_loading",
    "02_lsh",
    "03_bucket_inspection",
    "04_hamming_search",
    "05_grh",
    "06_comparison",
]
# Names that hold measured times: a cell that uses one shows machine-dependent output.
TIMING_NAMES = ("perf_counter", "mean_query_ms", "brute_ms", "ms_per_query", "fit_seconds")


def load(stem):
    return nbformat.read(NOTEBOOK_DIR / f"{stem}.ipynb", as_version=4)


def code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def markdown(nb):
    return [cell.source for cell in nb.cells if cell.cell_type == "markdown"]


def test_the_six_numbered_notebooks_exist():
    found = sorted(path.stem for path in NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
    assert found == EXPECTED


@pytest.mark.parametrize("stem", EXPECTED)
def test_title_learn_and_colab_badge_come_first(stem):
    nb = load(stem)
    first, second = nb.cells[0], nb.cells[1]
    assert first.cell_type == "markdown" and re.match(r"# \d\d · \S", first.source), first.source
    badge = f"https://colab.research.google.com/github/{{}}/blob/main/notebooks/{stem}.ipynb"
    assert re.search(re.escape(badge).replace(r"\{\}", r"[\w.-]+/[\w.-]+"), first.source)
    assert "colab-badge.svg" in first.source
    assert second.cell_type == "markdown" and second.source.startswith("**What you will learn:**")
    assert nb.metadata["kernelspec"]["name"] == "python3"


def setup_cell(nb):
    return code_cells(nb)[0].source


@pytest.mark.parametrize("stem", EXPECTED)
def test_setup_cell_has_seed_dataset_and_colab_install(stem):
    source = setup_cell(load(stem))
    for needed in (
        "SEED = 42",
        'DATASET = os.environ.get("TUTORIAL_DATASET", "auto")',
        'IS_COLAB = "google.colab" in sys.modules',
        "if IS_COLAB:",
        "%pip install",
        "%matplotlib inline",  # conftest sets MPLBACKEND=Agg, which would hide every figure
    ):
        assert needed in source, f"{stem}: setup cell lacks {needed!r}"
    assert load(stem).cells.index(code_cells(load(stem))[0]) == 2, "setup is the third cell"


def test_setup_cell_is_identical_everywhere():
    sources = {stem: setup_cell(load(stem)) for stem in EXPECTED}
    assert len(set(sources.values())) == 1, "setup cells differ: rebuild with build_notebooks.py"


@pytest.mark.parametrize("stem", EXPECTED)
def test_try_it_with_hidden_answer(stem):
    cells = markdown(load(stem))
    tries = [i for i, source in enumerate(cells) if source.startswith("## Try it")]
    assert tries, f"{stem}: no '## Try it' cell"
    answer = cells[tries[-1] + 1]
    assert answer.startswith("<details>") and answer.rstrip().endswith("</details>")
    assert "<summary>" in answer


@pytest.mark.parametrize("stem", EXPECTED)
def test_outputs_are_stored_from_one_clean_run(stem):
    cells = code_cells(load(stem))
    counts = [cell.execution_count for cell in cells]
    assert counts == list(range(1, len(cells) + 1)), (
        f"{stem} is not executed top to bottom in one run (execution counts {counts}); "
        "run python scripts/run_notebooks.py"
    )
    outputs = [output for cell in cells for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"], f"{stem} stores an error"
    stderr = [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, f"{stem} prints to stderr (warnings?): {stderr[:1]}"
    assert any("image/png" in o.get("data", {}) for o in outputs), f"{stem} has no figure"


@pytest.mark.parametrize("stem", EXPECTED)
def test_timing_cells_are_not_compared_by_nbval(stem):
    for cell in code_cells(load(stem)):
        if cell.outputs and any(name in cell.source for name in TIMING_NAMES):
            assert "# NBVAL_IGNORE_OUTPUT" in cell.source, (
                f"{stem}: a cell showing measured times needs # NBVAL_IGNORE_OUTPUT:\n{cell.source}"
            )


def test_readme_lists_every_notebook_and_sanitize_file_parses():
    readme = (NOTEBOOK_DIR / "README.md").read_text()
    for stem in EXPECTED:
        assert f"[{stem}.ipynb]({stem}.ipynb)" in readme
    config = configparser.ConfigParser()
    config.read(NOTEBOOK_DIR / "nbval_sanitize.cfg")
    for section in config.sections():
        re.compile(config[section]["regex"])
