"""Tests for tutorial_lib.data: loaders, the download cache, preprocessing, the split.

Downloads are exercised against a local HTTP server on 127.0.0.1 only.
"""

import hashlib
import io
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pooch
import pytest
import requests
import scipy.io
from sklearn.model_selection import train_test_split

from tutorial_lib import data
from tutorial_lib.data import (
    CIFAR10_CLASS_NAMES,
    CIFAR10_GIST_FILENAME,
    DataError,
    Dataset,
    check_features_labels,
    default_cache_dir,
    is_cifar10_gist_cached,
    load_cifar10_gist,
    load_dataset,
    load_digits,
    load_mat,
    preprocess,
    split,
)

N_ITEMS, N_FEATURES = 50, 8
_server_sleep = time.sleep  # kept: the `online` fixture replaces time.sleep during a test


def mat_bytes(**arrays):
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, arrays)
    return buffer.getvalue()


def good_arrays(n_classes=10, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N_ITEMS, N_FEATURES))
    return X, (np.arange(N_ITEMS) % n_classes)[None, :]  # 1 x n, as in the CIFAR file


GOOD = mat_bytes(X=good_arrays()[0], X_class=good_arrays()[1])
PAGES = {
    "/good.mat": GOOD,
    "/page.html": b"<!DOCTYPE html><html><body>Dropbox - Error</body></html>",
    "/truncated.mat": GOOD[: len(GOOD) // 2],
    "/wrong_keys.mat": mat_bytes(features=good_arrays()[0], labels=good_arrays()[1]),
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.requests.append(self.path)
        if self.path == "/slow.mat":
            _server_sleep(1.0)
        if self.path == "/error500.mat":
            self.send_error(500)
            return
        body = PAGES.get(self.path.replace("/slow.mat", "/good.mat"))
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep the test output clean
        pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that timed out leaves a broken pipe; that is the point of the test


@pytest.fixture(scope="module")
def server():
    httpd = _QuietServer(("127.0.0.1", 0), _Handler)
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def online(monkeypatch):
    """Lift the suite-wide TUTORIAL_LIB_OFFLINE=1 for tests that use the local server."""
    monkeypatch.delenv("TUTORIAL_LIB_OFFLINE", raising=False)
    monkeypatch.setattr(data.time, "sleep", lambda seconds: None)  # no back-off waits


@pytest.fixture
def no_network(monkeypatch):
    """Fail the test if anything tries to use HTTP."""

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(requests, "get", refuse)
    monkeypatch.setattr(requests.Session, "request", refuse)
    monkeypatch.setattr(pooch.HTTPDownloader, "__call__", refuse)


def dead_url():
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/good.mat"


def sha256_of(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- download and cache


def test_download_caches_verifies_then_loads_offline(server, online, tmp_path, monkeypatch):
    httpd, base = server
    cache = tmp_path / "cache"
    dataset = load_cifar10_gist(cache, url=f"{base}/good.mat", progress=False)
    cached = cache / CIFAR10_GIST_FILENAME
    assert dataset.X.shape == (N_ITEMS, N_FEATURES) and dataset.X.dtype == np.float64
    assert dataset.y.dtype == np.int64 and dataset.class_names == CIFAR10_CLASS_NAMES
    assert dataset.name == "cifar10-gist" and dataset.source == f"{base}/good.mat"
    assert sorted(p.name for p in cache.iterdir()) == [
        CIFAR10_GIST_FILENAME,
        CIFAR10_GIST_FILENAME + ".sha256",
    ]
    assert cached.read_bytes() == GOOD
    sidecar = (cache / (CIFAR10_GIST_FILENAME + ".sha256")).read_text()
    assert sidecar.split()[0] == sha256_of(cached)
    assert is_cifar10_gist_cached(cache)

    # Reuse: network forbidden and the URL points to a dead port.
    monkeypatch.setattr(requests, "get", _refuse)
    monkeypatch.setattr(pooch.HTTPDownloader, "__call__", _refuse)
    again = load_cifar10_gist(cache, url=dead_url(), progress=False)
    np.testing.assert_array_equal(again.X, dataset.X)
    np.testing.assert_array_equal(again.y, dataset.y)


def _refuse(*args, **kwargs):
    raise AssertionError("network access attempted")


@pytest.mark.parametrize(
    ("page", "kwargs", "expected"),
    [
        ("/page.html", {}, "HTML"),
        ("/truncated.mat", {}, "not a readable MATLAB .mat file"),
        ("/wrong_keys.mat", {}, "has no 'X' or 'X_class' array"),
        ("/missing.mat", {}, "HTTP 404"),
        ("/error500.mat", {"retries": 2}, "HTTP 500"),
        ("/slow.mat", {"timeout": 0.2, "retries": 1}, "timeout"),
        ("/good.mat", {"sha256": "0" * 64}, "expected SHA-256"),
    ],
)
def test_failed_download_is_one_line_and_leaves_cache_empty(
    server, online, tmp_path, page, kwargs, expected
):
    _, base = server
    cache = tmp_path / "cache"
    url = f"{base}{page}"
    with pytest.raises(DataError) as info:
        load_cifar10_gist(cache, url=url, progress=False, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert expected in message
    assert url in message
    assert str(cache / CIFAR10_GIST_FILENAME) in message
    assert "download it in a browser and save it as" in message
    assert list(cache.iterdir()) == []  # no temporary or partial file left
    assert not is_cifar10_gist_cached(cache)


def test_connection_refused_is_retried_then_reported(online, tmp_path, monkeypatch):
    waits = []
    monkeypatch.setattr(data.time, "sleep", waits.append)
    url = dead_url()
    with pytest.raises(DataError, match=r"connection failed .* after 3 attempts") as info:
        load_cifar10_gist(tmp_path, url=url, progress=False, retries=3)
    assert url in str(info.value) and len(waits) == 2
    assert list(tmp_path.iterdir()) == []


def test_server_error_is_retried(server, online, tmp_path):
    httpd, base = server
    before = httpd.requests.count("/error500.mat")
    with pytest.raises(DataError):
        load_cifar10_gist(tmp_path, url=f"{base}/error500.mat", progress=False, retries=3)
    assert httpd.requests.count("/error500.mat") - before == 3


def test_download_with_progress_bar_and_matching_sha256(server, online, tmp_path):
    _, base = server
    expected = hashlib.sha256(GOOD).hexdigest()
    dataset = load_cifar10_gist(tmp_path, url=f"{base}/good.mat", progress=True, sha256=expected)
    assert len(dataset) == N_ITEMS


def test_tampered_cache_is_detected(tmp_path, no_network):
    cached = tmp_path / CIFAR10_GIST_FILENAME
    cached.write_bytes(GOOD)
    load_cifar10_gist(tmp_path)  # placed by hand: verified, sidecar written
    assert (tmp_path / (CIFAR10_GIST_FILENAME + ".sha256")).is_file()
    X, labels = good_arrays(seed=1)
    cached.write_bytes(mat_bytes(X=X, X_class=labels))
    with pytest.raises(DataError, match="changed since it was verified") as info:
        load_cifar10_gist(tmp_path)
    assert str(cached) in str(info.value) and "delete it" in str(info.value)


def test_hand_placed_bad_file_is_reported(tmp_path, no_network):
    (tmp_path / CIFAR10_GIST_FILENAME).write_bytes(PAGES["/page.html"])
    with pytest.raises(DataError, match="HTML.*delete it to download it again"):
        load_cifar10_gist(tmp_path)


def test_offline_never_downloads(tmp_path, no_network):
    assert os.environ["TUTORIAL_LIB_OFFLINE"] == "1"  # set by conftest.py
    with pytest.raises(DataError, match="TUTORIAL_LIB_OFFLINE=1 forbids downloading"):
        load_cifar10_gist(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_default_cache_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("TUTORIAL_LIB_DATA", str(tmp_path / "env"))
    assert default_cache_dir(tmp_path / "arg") == tmp_path / "arg"
    assert default_cache_dir() == tmp_path / "env"
    monkeypatch.delenv("TUTORIAL_LIB_DATA")
    assert default_cache_dir() == pooch.os_cache("tutorial_lib")


def test_test_run_never_uses_the_user_cache():
    assert default_cache_dir() != pooch.os_cache("tutorial_lib")
    assert os.environ["MPLBACKEND"] == "Agg"


# --------------------------------------------------------------------------- load_mat


def write_mat(path, **arrays):
    path.write_bytes(mat_bytes(**arrays))
    return path


@pytest.mark.parametrize("shape", [(1, N_ITEMS), (N_ITEMS, 1), (N_ITEMS,)])
def test_load_mat_accepts_label_vectors(tmp_path, shape):
    X, labels = good_arrays(n_classes=3)
    path = write_mat(tmp_path / "three.mat", X=X, X_class=labels.reshape(shape).astype(float))
    dataset = load_mat(path)
    np.testing.assert_array_equal(dataset.y, labels.ravel())
    assert dataset.class_names == ("class 0", "class 1", "class 2")
    assert dataset.name == "three" and dataset.source == str(path)


def test_load_mat_names_cifar_classes_and_renumbers_other_labels(tmp_path):
    X, labels = good_arrays()
    dataset = load_mat(write_mat(tmp_path / CIFAR10_GIST_FILENAME, X=X, X_class=labels))
    assert dataset.class_names == CIFAR10_CLASS_NAMES and dataset.name == "cifar10-gist"
    one_based = load_mat(write_mat(tmp_path / "mnist.mat", X=X, X_class=labels + 1))
    assert one_based.class_names[0] == "class 1"
    np.testing.assert_array_equal(one_based.y, labels.ravel())
    named = load_mat(tmp_path / "mnist.mat", name="m", class_names="abcdefghij")
    assert named.class_names[0] == "a" and named.name == "m"


@pytest.mark.parametrize(
    ("arrays", "expected"),
    [
        ({"X": np.full((4, 2), np.nan), "X_class": [[0, 1, 0, 1]]}, "NaN or infinite"),
        ({"X": np.ones((4, 2)), "X_class": [[3, 3, 3, 3]]}, "only 1 class"),
        ({"X": np.ones((4, 2)), "X_class": [[0, 1, 0]]}, "3 labels but 'X' has 4 rows"),
        ({"X": np.ones((4, 2)), "X_class": [[0, 1.5, 0, 1]]}, "integer class labels"),
        ({"X": np.ones((4, 2)), "X_class": np.zeros((2, 2))}, "'X_class' of shape (2, 2)"),
        ({"X": np.ones((0, 2)), "X_class": np.zeros((1, 0))}, "is empty"),
        ({"X": np.ones((4, 2)), "y": [[0, 1, 0, 1]]}, "has no 'X_class' array (found keys: X, y)"),
    ],
)
def test_load_mat_rejects_bad_contents(tmp_path, arrays, expected):
    path = write_mat(tmp_path / "bad.mat", **arrays)
    with pytest.raises(DataError) as info:
        load_mat(path)
    assert expected in str(info.value) and str(path) in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("content", [PAGES["/page.html"], PAGES["/truncated.mat"], b"\x01" * 300])
def test_load_mat_rejects_unreadable_files(tmp_path, content):
    path = tmp_path / "broken.mat"
    path.write_bytes(content)
    with pytest.raises(DataError, match=r"is not a readable MATLAB \.mat file \(.+\); "):
        load_mat(path)


def test_load_mat_missing_file_and_value_error_compatibility(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_mat(tmp_path / "nowhere.mat")


# --------------------------------------------------------------------------- digits and load_dataset


def test_load_digits():
    dataset = load_digits()
    assert dataset.X.shape == (1797, 64) and dataset.X.dtype == np.float64
    assert dataset.y.dtype == np.int64 and dataset.images.shape == (1797, 8, 8)
    assert dataset.class_names == tuple("0123456789") and dataset.n_classes == 10
    assert (dataset.name, dataset.source) == ("digits", "scikit-learn")
    assert (len(dataset), dataset.n_items, dataset.n_features) == (1797, 1797, 64)
    assert "array" not in repr(dataset) and "n_items=1797" in repr(dataset)


def test_auto_offline_falls_back_to_digits_with_notice(tmp_path, capsys, no_network):
    dataset = load_dataset("auto", tmp_path)
    assert dataset.name == "digits"
    notice = capsys.readouterr().out
    assert notice.startswith("Using the bundled digits dataset: CIFAR-10 GIST is not cached at")
    assert str(tmp_path / CIFAR10_GIST_FILENAME) in notice and notice.count("\n") == 1
    load_dataset("auto", tmp_path, verbose=False)
    assert capsys.readouterr().out == ""


def test_auto_reports_why_the_download_failed(online, tmp_path, capsys, monkeypatch):
    def fail(url, destination, **kwargs):
        raise DataError("connection failed ([Errno 111] Connection refused)")

    monkeypatch.setattr(data, "_fetch", fail)
    assert load_dataset("auto", tmp_path).name == "digits"
    assert "could not be downloaded (connection failed" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_auto_uses_cached_cifar(tmp_path, no_network):
    X, labels = good_arrays()
    write_mat(tmp_path / CIFAR10_GIST_FILENAME, X=X, X_class=labels)
    assert load_dataset("auto", tmp_path).name == "cifar10-gist"


def test_explicit_cifar_offline_is_an_error_not_a_switch(tmp_path, no_network):
    with pytest.raises(DataError, match="not cached .* TUTORIAL_LIB_OFFLINE=1"):
        load_dataset("cifar10-gist", tmp_path)


def test_explicit_cifar_without_download(online, tmp_path, no_network):
    with pytest.raises(DataError, match="download=False"):
        load_dataset("cifar10-gist", tmp_path, download=False)


def test_load_dataset_by_name_and_path(tmp_path):
    assert load_dataset("Digits").name == "digits"
    X, labels = good_arrays(n_classes=4)
    path = write_mat(tmp_path / "small.mat", X=X, X_class=labels)
    assert load_dataset(path).n_classes == 4
    assert load_dataset(str(path)).name == "small"
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(str(tmp_path / "typo.mat"))


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(DataError, match="unknown dataset 'cifar100'.*'cifar10-gist', 'digits'"):
        load_dataset("cifar100")


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("X", "y", "expected"),
    [
        (np.arange(5.0), np.arange(5) % 2, r"got a 1-D array of shape \(5,\); reshape it"),
        (np.empty((0, 3)), np.empty(0), "is empty"),
        ([[1.0, np.inf], [0.0, 1.0]], [0, 1], "NaN or infinite"),
        ([[1.0], [2.0]], [0, 1, 1], "3 labels but X has 2 rows"),
        ([[1.0], [2.0]], [4, 4], "only 1 class"),
        ([["a"], ["b"]], [0, 1], "real numbers"),
        ([[1.0], [2.0]], [[0, 1]], r"y must be 1-D .* y\.ravel\(\)"),
    ],
)
def test_check_features_labels_rejects(X, y, expected):
    with pytest.raises(ValueError, match=expected):
        check_features_labels(X, y)


def test_check_features_labels_returns_contiguous_float_and_int():
    X, y = check_features_labels(np.asfortranarray(np.ones((3, 2), dtype=np.float32)), [0.0, 1, 1])
    assert X.dtype == np.float64 and X.flags.c_contiguous and y.dtype == np.int64


def test_dataset_checks_labels_index_class_names():
    with pytest.raises(DataError, match="labels must lie in 0..1"):
        Dataset(np.ones((2, 1)), np.array([0, 2]), ("a", "b"), "x", "test")


# --------------------------------------------------------------------------- preprocess


def test_preprocess_matches_hand_computation():
    X = np.array([[3.0, 4.0], [0.0, 2.0], [5.0, 0.0]])
    unit = np.array([[0.6, 0.8], [0.0, 1.0], [1.0, 0.0]])  # rows divided by 5, 2, 5
    expected = unit - unit.mean(axis=0)
    result = preprocess(X)
    np.testing.assert_allclose(result, expected)
    np.testing.assert_allclose(result.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(result + unit.mean(axis=0), axis=1), 1.0)
    assert X[0, 0] == 3.0  # input untouched


def test_preprocess_keeps_zero_rows_finite():
    result = preprocess([[0.0, 0.0], [1.0, 0.0]])
    assert np.isfinite(result).all()
    np.testing.assert_allclose(result, [[-0.5, 0.0], [0.5, 0.0]])


def test_preprocess_validates():
    with pytest.raises(ValueError, match="2-D"):
        preprocess([1.0, 2.0])


# --------------------------------------------------------------------------- split


@pytest.fixture(scope="module")
def cifar_sized():
    return np.arange(60_000, dtype=np.float64)[:, None], np.arange(60_000) % 10


def test_split_reproduces_the_article(cifar_sized):
    X, y = cifar_sized
    parts = split(X, y)
    assert parts.sizes == {"n_query": 120, "n_train": 1198, "n_database": 58682}
    X_rest, X_query, y_rest, y_query = train_test_split(X, y, test_size=0.002, random_state=42)
    X_db, X_train, y_db, y_train = train_test_split(X_rest, y_rest, test_size=0.02, random_state=42)
    for got, want in [
        (parts.X_query, X_query),
        (parts.y_query, y_query),
        (parts.X_train, X_train),
        (parts.y_train, y_train),
        (parts.X_database, X_db),
        (parts.y_database, y_db),
    ]:
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(split(X, y).X_query, parts.X_query)  # same seed, same split
    assert not np.array_equal(split(X, y, random_state=0).X_query, parts.X_query)


def test_split_parts_are_disjoint_and_complete(cifar_sized):
    X, y = cifar_sized
    parts = split(X, y)
    ids = np.concatenate([parts.X_query, parts.X_train, parts.X_database]).ravel()
    np.testing.assert_array_equal(np.sort(ids), X.ravel())
    # X holds each row's own number, so the recorded row indices must equal it.
    np.testing.assert_array_equal(parts.index_query, parts.X_query.ravel())
    np.testing.assert_array_equal(parts.index_train, parts.X_train.ravel())
    np.testing.assert_array_equal(parts.index_database, parts.X_database.ravel())


def test_split_small_dataset_default():
    dataset = load_digits()
    assert split(dataset.X, dataset.y).sizes == {
        "n_query": 180,
        "n_train": 405,
        "n_database": 1212,
    }


def test_split_accepts_counts():
    X, y = np.arange(100.0)[:, None], np.arange(100) % 2
    assert split(X, y, query_size=10, train_size=30).sizes == {
        "n_query": 10,
        "n_train": 30,
        "n_database": 60,
    }


@pytest.mark.parametrize(
    ("sizes", "expected"),
    [
        ({"query_size": 0}, "query_size=0 leaves no queries"),
        ({"query_size": 0.0}, "query_size must be .* got 0.0"),
        ({"query_size": 1.0}, "query_size must be .* got 1.0"),
        ({"query_size": 100}, "query_size=100 takes all 100 rows"),
        ({"query_size": 99}, "query_size=99 takes 99 of 100 rows"),
        ({"query_size": 0.99}, "leaving 1 for the training set and database"),
        ({"train_size": 0}, "train_size=0 leaves no training items"),
        ({"train_size": 0.999}, "leaving no database items"),
        ({"train_size": -3}, "train_size=-3"),
        ({"train_size": True}, "got True"),
    ],
)
def test_split_rejects_bad_sizes(sizes, expected):
    X, y = np.arange(100.0)[:, None], np.arange(100) % 2
    with pytest.raises(ValueError, match=expected):
        split(X, y, **sizes)
