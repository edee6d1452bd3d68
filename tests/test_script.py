"""hashing_tutorial.py end to end: files, numbers, determinism and bad input.

Runs ``main([...])`` in-process (fast), plus one subprocess to prove the real
exit status and stderr. The root conftest.py makes "auto" mean digits offline.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.io

import hashing_tutorial
from hashing_tutorial import main
from tests.helpers import gaussian_classes
from tutorial_lib.data import load_digits, preprocess, split
from tutorial_lib.evaluation import brute_force_top_k, label_hits

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "hashing_tutorial.py"
COLUMNS = [
    "method",
    "n_bits",
    "radius",
    "precision_at_10",
    "nn_accuracy",
    "mean_candidates",
    "mean_query_ms",
]
BITS = (4, 8)  # short codes: radius n_bits (the whole database) is inside --max-radius 10
RUN_ARGS = ["--dataset", "digits", "--bits", *map(str, BITS), "--max-radius", "10", "--quiet"]


@pytest.fixture(scope="module")
def digits_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits_run")
    assert main([*RUN_ARGS, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def results(digits_out):
    return pd.read_csv(digits_out / "results.csv")


@pytest.fixture(scope="module")
def summary(digits_out):
    return json.loads((digits_out / "summary.json").read_text())


def test_writes_csv_summary_and_figures(digits_out):
    names = [
        "results.csv",
        "summary.json",
        "precision_vs_radius_4bits.png",
        "precision_vs_radius_8bits.png",
        "query_time_vs_radius.png",
        "map_vs_bits.png",
        "bucket_sizes_4bits.png",
    ]
    for name in names:
        assert (digits_out / name).stat().st_size > 0, name
    assert (digits_out / "map_vs_bits.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_csv_has_one_row_per_method_bits_radius(results):
    assert list(results.columns) == COLUMNS
    expected = {(m, b, r) for m in ("lsh", "grh") for b in BITS for r in range(min(10, b) + 1)}
    rows = list(zip(results["method"], results["n_bits"], results["radius"], strict=True))
    assert len(rows) == len(expected)  # no duplicates
    assert set(rows) == expected  # --max-radius 10 is clipped to each code length


def test_values_are_in_range_and_candidates_grow_with_radius(results):
    for column in ("precision_at_10", "nn_accuracy"):
        assert results[column].between(0, 1).all(), column
    assert (results["mean_query_ms"] >= 0).all()
    for _, run in results.groupby(["method", "n_bits"]):
        candidates = run.sort_values("radius")["mean_candidates"].to_numpy()
        assert (np.diff(candidates) >= 0).all()


def test_radius_n_bits_equals_brute_force(results, summary):
    # Independent oracle: the same preprocessing and split, exhaustive cosine search.
    digits = load_digits()
    parts = split(preprocess(digits.X), digits.y, random_state=42)
    top = brute_force_top_k(parts.X_database, parts.X_query, k=10)
    brute_force = label_hits(top, parts.y_database, parts.y_query).sum(axis=1).mean() / 10
    full = results[results["radius"] == results["n_bits"]]
    assert len(full) == 2 * len(BITS)
    np.testing.assert_allclose(full["precision_at_10"], brute_force, rtol=0, atol=1e-12)
    assert (full["mean_candidates"] == len(parts.y_database)).all()
    assert summary["brute_force_precision_at_10"] == pytest.approx(brute_force, abs=1e-12)


def test_summary_json(summary):
    assert summary["dataset"] == {
        "name": "digits",
        "source": "scikit-learn",
        "n_items": 1797,
        "n_features": 64,
        "n_classes": 10,
    }
    assert {k: summary["split"][k] for k in ("n_query", "n_train", "n_database")} == {
        "n_query": 180,
        "n_train": 405,
        "n_database": 1212,
    }
    config = summary["config"]
    for option in (
        "dataset",
        "data_file",
        "bits",
        "max_radius",
        "methods",
        "grh_iterations",
        "grh_alpha",
        "query_size",
        "train_size",
        "seed",
        "out",
        "cache_dir",
        "quiet",
    ):
        assert option in config, option
    assert config["bits"] == list(BITS)
    assert set(summary["methods"]) == {"lsh", "grh"}
    for runs in summary["methods"].values():
        assert set(runs) == {str(b) for b in BITS}
        for scores in runs.values():
            assert 0 <= scores["map"] <= 1
            assert 0 <= scores["precision_at_radius_2"] <= 1
            assert scores["train_seconds"] >= 0
    assert 0 <= summary["brute_force_precision_at_10"] <= 1
    assert summary["total_seconds"] > 0


def test_same_arguments_give_the_same_numbers(results, tmp_path):
    assert main([*RUN_ARGS, "--out", str(tmp_path)]) == 0
    again = pd.read_csv(tmp_path / "results.csv")
    pd.testing.assert_frame_equal(
        results.drop(columns="mean_query_ms"), again.drop(columns="mean_query_ms"), check_exact=True
    )


def test_prints_headline_table(tmp_path, capsys):
    args = ["--bits", "16", "--max-radius", "3", "--methods", "lsh", "--out", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Using the bundled digits dataset" in out  # auto falls back offline, saying why
    header = next(line for line in out.splitlines() if line.startswith("method"))
    assert header.split() == [
        "method", "bits", "P@10", "r=0", "P@10", "r=2", "P@10", "r=5", "P@10", "r=10", "mAP", "train", "s"
    ]  # fmt: skip
    lsh = next(line for line in out.splitlines() if line.startswith("LSH"))
    assert lsh.split()[1] == "16" and lsh.split()[4:6] == ["-", "-"]  # r=5, 10 not swept
    assert "brute-force cosine precision@10" in out
    assert str(tmp_path / "results.csv") in out


def test_quiet_prints_nothing(tmp_path, capsys):
    assert main(["--bits", "4", "--methods", "lsh", "--out", str(tmp_path), "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")


def test_data_file(tmp_path):
    X, y = gaussian_classes(300, 12, n_classes=3, seed=0)
    scipy.io.savemat(tmp_path / "blobs.mat", {"X": X, "X_class": y[None, :] + 1})
    out = tmp_path / "out"
    assert main(["--data-file", str(tmp_path / "blobs.mat"), "--bits", "6", "--out", str(out), "--quiet"]) == 0  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dataset"]["name"] == "blobs"
    assert summary["dataset"]["n_classes"] == 3
    assert summary["split"]["n_query"] == 30  # the small-dataset default, 0.1


def test_unexpected_errors_keep_their_traceback(tmp_path, monkeypatch):
    # Only known bad-input points are turned into exit status 2; a bug must surface.
    def broken(*args, **kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(hashing_tutorial, "evaluate_run", broken)
    with pytest.raises(ValueError, match="a bug"):
        main(["--bits", "4", "--out", str(tmp_path), "--quiet"])


# --------------------------------------------------------------------------- bad input


def _html(tmp_path):
    path = tmp_path / "Gist512CIFAR10.mat"
    path.write_text("<!DOCTYPE html><html><body>Dropbox: file not found</body></html>")
    return ["--data-file", str(path)]


def _garbage(tmp_path):
    path = tmp_path / "garbage.mat"
    path.write_bytes(np.random.default_rng(0).bytes(4000))
    return ["--data-file", str(path)]


def _wrong_keys(tmp_path):
    path = tmp_path / "wrong.mat"
    scipy.io.savemat(path, {"features": np.ones((5, 3)), "labels": np.arange(5)})
    return ["--data-file", str(path)]


def _wrong_lengths(tmp_path):
    path = tmp_path / "lengths.mat"
    scipy.io.savemat(path, {"X": np.ones((6, 3)), "X_class": np.array([[0, 1, 0]])})
    return ["--data-file", str(path)]


def _out_under_file(tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    return ["--out", str(tmp_path / "a_file" / "results")]


BAD_INPUTS = {
    "unknown dataset": (lambda t: ["--dataset", "imagenet"], "invalid choice: 'imagenet'"),
    "missing .mat": (lambda t: ["--data-file", str(t / "missing.mat")], "does not exist"),
    "unreadable .mat": (_garbage, "is not a readable MATLAB .mat file"),
    "wrong keys": (_wrong_keys, "has no 'X' or 'X_class' array (found keys: features, labels)"),
    "wrong lengths": (_wrong_lengths, "'X_class' has 3 labels but 'X' has 6 rows"),
    "html as .mat": (_html, "looks like an HTML web page"),
    "bits 0": (lambda t: ["--bits", "0"], "between 1 and 64, got '0'"),
    "bits 65": (lambda t: ["--bits", "16", "65"], "between 1 and 64, got '65'"),
    "negative radius": (lambda t: ["--max-radius", "-1"], "non-negative integer, got '-1'"),
    "no queries": (lambda t: ["--query-size", "0"], "leaves no queries"),
    "no training items": (lambda t: ["--train-size", "0"], "leaves no training items"),
    "all rows as queries": (lambda t: ["--query-size", "1797"], "takes all 1797 rows"),
    "one-class training set": (lambda t: ["--train-size", "1"], "holds a single class"),
    "unknown method": (lambda t: ["--methods", "lsh", "pca"], "invalid choice: 'pca'"),
    "unwritable out": (_out_under_file, "cannot write results to --out"),
    "cifar offline": (lambda t: ["--dataset", "cifar10-gist"], "download it in a browser and save it as"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_exits_2_with_one_line(case, tmp_path, capsys):
    make_args, message = BAD_INPUTS[case]
    args = ["--out", str(tmp_path / "out"), *make_args(tmp_path), "--quiet"]
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("hashing_tutorial.py: error: ")
    assert err.count("\n") == 1
    assert message in err
    assert "Traceback" not in err


def test_bad_input_exit_status_in_a_real_process(tmp_path):
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *_html(tmp_path), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "looks like an HTML web page" in lines[0]
    assert "Traceback" not in result.stderr
