"""Datasets, preprocessing and the query / training / database split.

Three sources give the same :class:`Dataset`:

* CIFAR-10 GIST (``Gist512CIFAR10.mat``), downloaded once into a cache folder,
  verified, and then read offline with a SHA-256 check;
* scikit-learn's bundled ``digits`` (always available, no network);
* any local ``.mat`` file holding ``X`` (n_items x n_features) and ``X_class``.

The environment variable ``TUTORIAL_LIB_OFFLINE=1`` forbids all network
access (tests and notebooks set it), and ``TUTORIAL_LIB_DATA`` moves the cache.
Explained in ``notebooks/01_data_loading.ipynb``.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pooch
import requests
import scipy.io
from sklearn.model_selection import train_test_split

__all__ = [
    "CIFAR10_CLASS_NAMES",
    "CIFAR10_GIST_FILENAME",
    "CIFAR10_GIST_URL",
    "DATASET_NAMES",
    "PROTOCOL_QUERY_SIZE",
    "PROTOCOL_TRAIN_SIZE",
    "SMALL_QUERY_SIZE",
    "SMALL_TRAIN_SIZE",
    "DataError",
    "Dataset",
    "DownloadError",
    "Split",
    "check_features",
    "check_features_labels",
    "default_cache_dir",
    "default_split_sizes",
    "is_cifar10_gist_cached",
    "load_cifar10_gist",
    "load_dataset",
    "load_digits",
    "load_mat",
    "preprocess",
    "split",
]

CIFAR10_GIST_URL = "https://www.dropbox.com/s/875u1rkva9iffpj/Gist512CIFAR10.mat?dl=1"
CIFAR10_GIST_FILENAME = "Gist512CIFAR10.mat"
CIFAR10_CLASS_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
DATASET_NAMES = ("auto", "cifar10-gist", "digits")

#: The article's split: 0.2 % of all rows are queries, 2 % of the rest train.
PROTOCOL_QUERY_SIZE = 0.002
PROTOCOL_TRAIN_SIZE = 0.02
#: Used when the protocol would give fewer than ``MIN_PROTOCOL_QUERIES`` queries.
SMALL_QUERY_SIZE = 0.1
SMALL_TRAIN_SIZE = 0.25
MIN_PROTOCOL_QUERIES = 100

OFFLINE_ENV = "TUTORIAL_LIB_OFFLINE"
DATA_DIR_ENV = "TUTORIAL_LIB_DATA"
_MANUAL_FIX = "download it in a browser and save it as {path}, or pass --data-file / load_mat"


class DataError(ValueError):
    """A dataset is missing, unreadable, or has unusable contents.

    Subclasses ``ValueError`` so ``except ValueError`` still catches it.
    Explained in ``notebooks/01_data_loading.ipynb``.
    """


class DownloadError(DataError):
    """Getting CIFAR-10 GIST failed; ``reason`` is the short cause.

    Explained in ``notebooks/01_data_loading.ipynb``.
    """

    def __init__(self, message, *, reason="", url="", path=""):
        super().__init__(message)
        self.reason = reason
        self.url = url
        self.path = path


# --------------------------------------------------------------------------- containers


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """Features, labels and where they came from.

    ``eq=False`` keeps identity comparison: comparing numpy arrays field by
    field would be ambiguous. Explained in ``notebooks/01_data_loading.ipynb``.

    Parameters
    ----------
    X : ndarray of shape (n_items, n_features), float64
    y : ndarray of shape (n_items,), int64
        Labels ``0 .. n_classes - 1``; ``class_names[y[i]]`` names item i.
    class_names : tuple of str
    name : str
        Short name, e.g. ``"cifar10-gist"`` or ``"digits"``.
    source : str
        URL, file path, or ``"scikit-learn"``.
    images : ndarray of shape (n_items, height, width) or None
        Pixels for display (digits); None when only descriptors exist (GIST).

    Examples
    --------
    >>> ds = load_digits()
    >>> ds
    Dataset(name='digits', n_items=1797, n_features=64, n_classes=10, source='scikit-learn', images=(1797, 8, 8))
    >>> len(ds), ds.class_names[ds.y[0]]
    (1797, '0')
    """

    X: np.ndarray
    y: np.ndarray
    class_names: tuple[str, ...]
    name: str
    source: str
    images: np.ndarray | None = None

    def __post_init__(self):
        # Cheap shape checks only: the loaders already validated the values.
        if self.X.ndim != 2 or self.y.shape != (self.X.shape[0],):
            raise DataError(
                f"Dataset needs X of shape (n, d) and y of shape (n,), got {self.X.shape} "
                f"and {self.y.shape}; build it with check_features_labels(X, y)"
            )
        if self.y.size and (self.y.min() < 0 or self.y.max() >= len(self.class_names)):
            raise DataError(
                f"labels must lie in 0..{len(self.class_names) - 1} to index class_names, "
                f"got {self.y.min()}..{self.y.max()}; pass one name per class"
            )
        if self.images is not None and self.images.shape[0] != self.X.shape[0]:
            raise DataError(
                f"images has {self.images.shape[0]} items but X has {self.X.shape[0]}; "
                "pass one image per row of X or images=None"
            )

    @property
    def n_items(self) -> int:
        """Number of rows of ``X``."""
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        """Number of columns of ``X``."""
        return self.X.shape[1]

    @property
    def n_classes(self) -> int:
        """Number of class names (labels are ``0 .. n_classes - 1``)."""
        return len(self.class_names)

    def __len__(self) -> int:
        return self.n_items

    def __repr__(self) -> str:
        images = None if self.images is None else self.images.shape
        return (
            f"Dataset(name={self.name!r}, n_items={self.n_items}, n_features={self.n_features}, "
            f"n_classes={self.n_classes}, source={self.source!r}, images={images})"
        )


@dataclass(frozen=True, eq=False)
class Split:
    """The three disjoint parts of the retrieval protocol.

    Queries are searched for in the database; the training set only fits
    learned hashers (GRH). Explained in ``notebooks/01_data_loading.ipynb``.
    """

    X_query: np.ndarray
    y_query: np.ndarray
    X_train: np.ndarray
    y_train: np.ndarray
    X_database: np.ndarray
    y_database: np.ndarray
    #: Row numbers of each part in the array that was split, e.g. to show a
    #: database item's image from ``Dataset.images``.
    index_query: np.ndarray | None = None
    index_train: np.ndarray | None = None
    index_database: np.ndarray | None = None

    @property
    def sizes(self) -> dict[str, int]:
        """Row counts: ``{"n_query": ..., "n_train": ..., "n_database": ...}``."""
        return {
            "n_query": len(self.y_query),
            "n_train": len(self.y_train),
            "n_database": len(self.y_database),
        }

    def __repr__(self) -> str:
        sizes = ", ".join(f"{key}={value}" for key, value in self.sizes.items())
        return f"Split({sizes})"


# --------------------------------------------------------------------------- validation


def check_features(X, *, name="X") -> np.ndarray:
    """Validate a feature matrix and return it as C-contiguous float64.

    Explained in ``notebooks/01_data_loading.ipynb``.

    Parameters
    ----------
    X : array-like of shape (n_items, n_features)
    name : str, default="X"
        Name used in error messages.

    Returns
    -------
    X : ndarray of shape (n_items, n_features), float64

    Raises
    ------
    ValueError
        Not 2-D, empty, not numeric, or containing NaN / infinity.
    """
    X = np.asarray(X)
    if X.ndim == 1:
        raise ValueError(
            f"{name} must be 2-D (n_items, n_features), got a 1-D array of shape {X.shape}; "
            f"reshape it with {name}.reshape(-1, 1) for one feature or {name}.reshape(1, -1) "
            "for one item"
        )
    if X.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n_items, n_features), got {X.ndim}-D shape {X.shape}; "
            f"flatten each item, e.g. {name}.reshape(len({name}), -1)"
        )
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(
            f"{name} is empty (shape {X.shape}); it needs at least one item and one feature"
        )
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool) or np.iscomplexobj(X):
        raise ValueError(f"{name} must hold real numbers, got dtype {X.dtype}; convert it first")
    X = np.ascontiguousarray(X, dtype=np.float64)
    _check_finite(X, name)
    return X


def _check_finite(X, name):
    bad = ~np.isfinite(X)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"{name} contains {int(bad.sum())} NaN or infinite values (first at row {row}, "
            f"column {col}); drop or impute those items first"
        )


def check_features_labels(X, y, *, names=("X", "y")) -> tuple[np.ndarray, np.ndarray]:
    """Validate features and class labels together.

    Shared by the loaders, :func:`split` and the hashers that use labels.
    Explained in ``notebooks/01_data_loading.ipynb``.

    Parameters
    ----------
    X : array-like of shape (n_items, n_features)
    y : array-like of shape (n_items,)
        Integer-valued class labels (floats such as ``3.0`` are accepted).
    names : tuple of str, default=("X", "y")
        Names used in error messages.

    Returns
    -------
    X : ndarray of shape (n_items, n_features), float64, C-contiguous
    y : ndarray of shape (n_items,), int64

    Raises
    ------
    ValueError
        Bad ``X`` (see :func:`check_features`), ``y`` not 1-D, not integer
        valued, a different length from ``X``, or fewer than 2 classes.

    Examples
    --------
    >>> X, y = check_features_labels([[1, 2], [3, 4]], [0.0, 1.0])
    >>> X.dtype, y.dtype
    (dtype('float64'), dtype('int64'))
    """
    x_name, y_name = names
    X = check_features(X, name=x_name)
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(
            f"{y_name} must be 1-D (n_items,), got shape {y.shape}; flatten it with {y_name}.ravel()"
        )
    if len(y) != len(X):
        raise ValueError(
            f"{y_name} has {len(y)} labels but {x_name} has {len(X)} rows; "
            "pass exactly one label per item"
        )
    return X, _integer_labels(y, y_name)


def _integer_labels(y, y_name):
    if not (np.issubdtype(y.dtype, np.number) or y.dtype == bool) or np.iscomplexobj(y):
        raise ValueError(
            f"{y_name} must hold integer class labels, got dtype {y.dtype}; "
            "encode names with sklearn.preprocessing.LabelEncoder"
        )
    if not np.issubdtype(y.dtype, np.integer):
        as_float = y.astype(np.float64)
        fractional = ~np.isfinite(as_float) | (as_float != np.round(as_float))
        if fractional.any():
            index = int(np.argmax(fractional))
            raise ValueError(
                f"{y_name} must hold integer class labels, got {as_float[index]!r} at position "
                f"{index}; round or encode the labels first"
            )
    y = y.astype(np.int64)
    n_classes = len(np.unique(y))
    if n_classes < 2:
        raise ValueError(
            f"{y_name} has only {n_classes} class (all labels are {y[0]}); "
            "retrieval by class needs at least 2 classes"
        )
    return y


# --------------------------------------------------------------------------- .mat files


def load_mat(path, name=None, class_names=None) -> Dataset:
    """Load any MATLAB ``.mat`` file holding ``X`` and ``X_class``.

    This is the layout of ``Gist512CIFAR10.mat`` and of the LabelMe GIST and
    MNIST files published next to it. Explained in
    ``notebooks/01_data_loading.ipynb``.

    Parameters
    ----------
    path : str or Path
    name : str, optional
        Dataset name; defaults to ``"cifar10-gist"`` for the CIFAR file,
        else the file stem.
    class_names : sequence of str, optional
        One name per class. Default: the CIFAR-10 names for
        ``Gist512CIFAR10.mat`` with 10 classes, else ``"class <label>"``.

    Returns
    -------
    Dataset
        ``X`` as float64. Labels already ``0 .. K-1`` are kept; other label
        sets (e.g. ``1 .. 10``) are renumbered ``0 .. K-1`` in sorted order
        and the original value stays in the class name.

    Raises
    ------
    DataError
        Missing file, not a MATLAB file (e.g. an HTML page or a truncated
        download), missing ``X`` / ``X_class``, or unusable contents.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"{path} does not exist or is not a file; check the path, or use "
            "load_dataset('cifar10-gist') / load_dataset('digits')"
        )
    try:
        return _dataset_from_mat(path, name=name, class_names=class_names, source=str(path))
    except DataError as error:
        raise DataError(f"{path} {error}") from error


def _dataset_from_mat(path, *, name, class_names, source, file_name=None):
    """Read and validate; errors are clauses meant to follow the file name."""
    file_name = file_name or Path(path).name
    X, labels = _read_x_and_labels(path)
    try:
        X, y = check_features_labels(X, labels, names=("'X'", "'X_class'"))
    except ValueError as error:
        raise DataError(f"has unusable contents: {error}") from error
    y, default_names = _encode_labels(y, cifar=file_name == CIFAR10_GIST_FILENAME)
    class_names = default_names if class_names is None else tuple(str(c) for c in class_names)
    if len(class_names) != len(default_names):
        raise DataError(
            f"has {len(default_names)} classes but {len(class_names)} class_names were given; "
            "pass one name per class"
        )
    if name is None:
        name = "cifar10-gist" if file_name == CIFAR10_GIST_FILENAME else Path(file_name).stem
    return Dataset(X=X, y=y, class_names=class_names, name=name, source=source)


def _read_x_and_labels(path):
    contents = _loadmat(path)
    missing = [key for key in ("X", "X_class") if key not in contents]
    if missing:
        found = ", ".join(k for k in contents if not k.startswith("__")) or "none"
        raise DataError(
            f"has no {' or '.join(repr(k) for k in missing)} array (found keys: {found}); "
            "save features as 'X' (n_items x n_features) and labels as 'X_class'"
        )
    labels = np.asarray(contents["X_class"])
    # MATLAB stores vectors as 1 x n or n x 1; both mean one label per item.
    if labels.ndim == 2 and 1 in labels.shape:
        labels = labels.ravel()
    elif labels.ndim != 1:
        raise DataError(
            f"has 'X_class' of shape {labels.shape}, expected 1 x n, n x 1 or (n,); "
            "save one label per item"
        )
    return contents["X"], labels


def _loadmat(path):
    try:
        with open(path, "rb") as file:
            head = file.read(1024).lstrip().lower()
    except OSError as error:
        raise DataError(
            f"cannot be read ({_describe(error)}); check the path and its permissions"
        ) from error

    # scipy reports an HTML page as an obscure IndexError; name it instead.
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        _raise_unreadable("it looks like an HTML web page, e.g. a Dropbox error page")
    if head.startswith(b"\x89hdf"):
        _raise_unreadable("MATLAB v7.3 / HDF5 is not supported; re-save it with save -v7")
    try:
        return scipy.io.loadmat(path)
    except NotImplementedError as error:  # scipy's message for v7.3 files
        _raise_unreadable(_one_line(error), cause=error)
    except Exception as error:  # truncated or random bytes raise many error types
        why = f"{type(error).__name__}: {_one_line(error) or 'no detail'}"
        _raise_unreadable(f"{why}; the file may be truncated or corrupt", cause=error)


def _raise_unreadable(why, cause=None):
    raise DataError(
        f"is not a readable MATLAB .mat file ({why}); re-download it, or write it with "
        "scipy.io.savemat({'X': X, 'X_class': y})"
    ) from cause


def _encode_labels(y, *, cifar):
    values = np.unique(y)
    if cifar and len(values) == len(CIFAR10_CLASS_NAMES) and values[0] == 0 and values[-1] == 9:
        return y, CIFAR10_CLASS_NAMES
    names = tuple(f"class {value}" for value in values)
    if values[0] == 0 and values[-1] == len(values) - 1:
        return y, names
    # Renumber so that labels index class_names; the name keeps the original value.
    return np.searchsorted(values, y).astype(np.int64), names


# --------------------------------------------------------------------------- CIFAR-10 GIST


def default_cache_dir(cache_dir=None) -> Path:
    """The folder that holds downloaded data.

    The argument wins, then the environment variable ``TUTORIAL_LIB_DATA``,
    then the operating system's cache folder (``pooch.os_cache``). The
    folder is not created here. Explained in ``notebooks/01_data_loading.ipynb``.

    Parameters
    ----------
    cache_dir : str or Path, optional

    Returns
    -------
    Path
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    from_env = os.environ.get(DATA_DIR_ENV, "").strip()
    if from_env:
        return Path(from_env).expanduser()
    return Path(pooch.os_cache("tutorial_lib"))


def is_cifar10_gist_cached(cache_dir=None) -> bool:
    """Whether ``Gist512CIFAR10.mat`` is in the cache folder (no network used).

    Explained in ``notebooks/01_data_loading.ipynb``.
    """
    return (default_cache_dir(cache_dir) / CIFAR10_GIST_FILENAME).is_file()


def _offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def load_cifar10_gist(
    cache_dir=None,
    *,
    url=CIFAR10_GIST_URL,
    timeout=30,
    retries=3,
    progress=True,
    sha256=None,
) -> Dataset:
    """CIFAR-10 GIST: 60,000 x 512 descriptors, 10 classes, cached after one download.

    A cached file is read without any network access; its SHA-256 must match
    the ``.sha256`` file recorded next to it at download time. A download is
    written to a temporary file in the cache folder and moved into place only
    after it passes the same checks as :func:`load_mat`, so a failed or
    partial download never stays in the cache. Explained in
    ``notebooks/01_data_loading.ipynb``.

    Parameters
    ----------
    cache_dir : str or Path, optional
        See :func:`default_cache_dir`.
    url : str, default=CIFAR10_GIST_URL
    timeout : float, default=30
        Seconds to wait for the server to connect or send data.
    retries : int, default=3
        Attempts for network failures (connection errors, timeouts, HTTP 5xx).
    progress : bool, default=True
        Show a tqdm progress bar while downloading.
    sha256 : str, optional
        Expected SHA-256 (hex) of the file, checked on download and on load.

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        The file cannot be had (offline, network or server failure, bad
        content); the message names the URL, the cache path and the manual fix.
        A cached file whose hash changed also raises.
    """
    path = default_cache_dir(cache_dir) / CIFAR10_GIST_FILENAME
    if path.is_file():
        return _load_cached(path, sha256)
    if _offline():
        raise DownloadError(
            f"CIFAR-10 GIST is not cached at {path} and {OFFLINE_ENV}=1 forbids downloading "
            f"it from {url}; {_MANUAL_FIX.format(path=path)}, or use load_dataset('digits')",
            reason=f"{OFFLINE_ENV}=1 forbids downloading it",
            url=url,
            path=str(path),
        )
    return _download(url, path, timeout=timeout, retries=retries, progress=progress, sha256=sha256)


def _sidecar(path):
    return path.with_name(path.name + ".sha256")


def _file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load_cached(path, sha256):
    digest = _file_sha256(path)
    sidecar = _sidecar(path)
    recorded = sidecar.read_text().split()[0].lower() if sidecar.is_file() else None
    for expected, where in ((recorded, f"recorded in {sidecar}"), (sha256, "given as sha256=")):
        if expected is not None and digest != expected.lower():
            raise DataError(
                f"cached file {path} changed since it was verified (SHA-256 {digest[:16]}... "
                f"!= {expected[:16]}... {where}); it is corrupt or was replaced: delete it and "
                f"{sidecar.name} to download it again"
            )
    try:
        dataset = _dataset_from_mat(path, name=None, class_names=None, source=str(path))
    except DataError as error:
        raise DataError(f"cached file {path} {error}; delete it to download it again") from error
    if recorded is None:
        # Placed by hand: it passed the checks, so record it to detect later changes.
        sidecar.write_text(f"{digest}  {path.name}\n")
    return dataset


def _download(url, path, *, timeout, retries, progress, sha256):
    _check_download_options(timeout, retries)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Same folder as the target so os.replace is an atomic rename.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(handle)
    try:
        _fetch(url, temporary, timeout=timeout, retries=retries, progress=progress)
        dataset = _verified_download(temporary, url, sha256)
        digest = _file_sha256(temporary)
        os.replace(temporary, path)
        _sidecar(path).write_text(f"{digest}  {path.name}\n")
        return dataset
    except (DataError, OSError) as error:
        reason = _one_line(error) if isinstance(error, DataError) else _describe(error)
        raise DownloadError(
            f"Could not get CIFAR-10 GIST from {url} into {path}: {reason}. To fix: "
            f"{_MANUAL_FIX.format(path=path)}",
            reason=reason,
            url=url,
            path=str(path),
        ) from error
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _check_download_options(timeout, retries):
    if not isinstance(retries, (int, np.integer)) or isinstance(retries, bool) or retries < 1:
        raise ValueError(f"retries must be an integer >= 1, got {retries!r}")
    if not timeout or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")


def _verified_download(temporary, url, sha256):
    try:
        dataset = _dataset_from_mat(
            temporary,
            name="cifar10-gist",
            class_names=None,
            source=url,
            file_name=CIFAR10_GIST_FILENAME,
        )
    except DataError as error:
        raise DataError(f"the downloaded file {error}") from error
    if sha256 is not None and _file_sha256(temporary) != sha256.lower():
        raise DataError(f"the downloaded file does not have the expected SHA-256 {sha256}")
    return dataset


_NOT_RETRIED = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
)


def _fetch(url, destination, *, timeout, retries, progress):
    """Download with retries; client errors (HTTP 4xx) are not retried."""
    downloader = pooch.HTTPDownloader(progressbar=progress, timeout=timeout)
    for attempt in range(1, retries + 1):
        try:
            downloader(url, destination, None)
            return
        except _NOT_RETRIED as error:  # a bad URL will not get better
            raise DataError(_describe(error)) from error
        except requests.HTTPError as error:
            status = error.response.status_code if error.response is not None else 0
            if status < 500 or attempt == retries:
                raise DataError(_describe(error)) from error
        except requests.RequestException as error:
            if attempt == retries:
                suffix = f" after {retries} attempts" if retries > 1 else ""
                raise DataError(f"{_describe(error)}{suffix}") from error
        time.sleep(min(2 ** (attempt - 1), 8))  # back off before trying again


def _describe(error):
    """A short, one-line cause for a network or file error."""
    if isinstance(error, requests.HTTPError) and error.response is not None:
        response = error.response
        return f"the server answered HTTP {response.status_code} {response.reason}".rstrip()
    if isinstance(error, requests.Timeout):
        return "the server did not answer in time (timeout)"
    text = _one_line(error)
    errno_match = re.search(r"\[Errno -?\d+\] [^'\")]+", text)
    if isinstance(error, requests.ConnectionError):
        return f"connection failed ({errno_match.group(0) if errno_match else text[:120]})"
    return f"{type(error).__name__}: {text[:200]}"


def _one_line(error):
    return " ".join(str(error).split())


# --------------------------------------------------------------------------- digits and dispatch


def load_digits() -> Dataset:
    """scikit-learn's bundled 8 x 8 handwritten digits: 1,797 items, 64 features.

    Needs no network, so it is the fallback dataset. Explained in
    ``notebooks/01_data_loading.ipynb``.

    Returns
    -------
    Dataset
        ``X`` float64 (1797, 64), ``y`` int64, ``images`` (1797, 8, 8),
        class names ``"0"`` .. ``"9"``.
    """
    from sklearn.datasets import load_digits as sklearn_load_digits

    bunch = sklearn_load_digits()
    X, y = check_features_labels(bunch.data, bunch.target)
    return Dataset(
        X=X,
        y=y,
        class_names=tuple(str(name) for name in bunch.target_names),
        name="digits",
        source="scikit-learn",
        images=np.asarray(bunch.images, dtype=np.float64),
    )


def load_dataset(name_or_path="auto", cache_dir=None, *, verbose=True, download=True) -> Dataset:
    """Load a dataset by name or path.

    Explained in ``notebooks/01_data_loading.ipynb``.

    Parameters
    ----------
    name_or_path : str or Path, default="auto"
        ``"cifar10-gist"`` (fails loudly if it cannot be had), ``"digits"``,
        a path to a ``.mat`` file with ``X`` and ``X_class``, or ``"auto"``:
        CIFAR-10 GIST when cached or downloadable, else digits with a printed
        one-line notice saying why. With ``TUTORIAL_LIB_OFFLINE=1`` nothing is
        downloaded. A cached CIFAR file that fails its checks raises instead
        of switching, so a corrupt cache is noticed.
    cache_dir : str or Path, optional
        See :func:`default_cache_dir`.
    verbose : bool, default=True
        Print the fallback notice and show the download progress bar.
    download : bool, default=True
        Allow downloading CIFAR-10 GIST when it is not cached.

    Returns
    -------
    Dataset

    Raises
    ------
    DataError
        Unknown name, or the requested dataset cannot be loaded.

    Examples
    --------
    >>> load_dataset("digits").name
    'digits'
    """
    key = "" if isinstance(name_or_path, os.PathLike) else str(name_or_path).strip().lower()
    if key not in DATASET_NAMES and _looks_like_path(name_or_path):
        return load_mat(name_or_path)
    if key == "digits":
        return load_digits()
    if key == "cifar10-gist":
        if not download and not is_cifar10_gist_cached(cache_dir):
            path = default_cache_dir(cache_dir) / CIFAR10_GIST_FILENAME
            raise DataError(
                f"CIFAR-10 GIST is not cached at {path} and download=False; "
                f"pass download=True, or {_MANUAL_FIX.format(path=path)}"
            )
        return load_cifar10_gist(cache_dir, progress=verbose)
    if key == "auto":
        return _load_auto(cache_dir, verbose=verbose, download=download)
    raise DataError(
        f"unknown dataset {name_or_path!r}; use one of {', '.join(map(repr, DATASET_NAMES))} "
        "or a path to a .mat file with X and X_class"
    )


def _looks_like_path(name_or_path):
    if isinstance(name_or_path, os.PathLike):
        return True
    text = str(name_or_path)
    return text.lower().endswith(".mat") or os.path.isfile(text)


def _load_auto(cache_dir, *, verbose, download):
    path = default_cache_dir(cache_dir) / CIFAR10_GIST_FILENAME
    if path.is_file():
        return load_cifar10_gist(cache_dir, progress=verbose)
    if _offline():
        why = f"{OFFLINE_ENV}=1 forbids downloading it"
    elif not download:
        why = "downloading is switched off (download=False)"
    else:
        try:
            # One short attempt: "auto" must fall back quickly in an offline classroom.
            return load_cifar10_gist(cache_dir, progress=verbose, retries=1, timeout=10)
        except DownloadError as error:
            why = f"could not be downloaded ({error.reason})"
    if verbose:
        print(f"Using the bundled digits dataset: CIFAR-10 GIST is not cached at {path} and {why}.")
    return load_digits()


# --------------------------------------------------------------------------- preprocessing and split


def preprocess(X) -> np.ndarray:
    """L2-normalise every row, then subtract the column mean.

    Unit rows make the dot product a cosine, and centring puts the origin
    among the data so random hyperplanes through it split the items. A
    zero row stays zero after normalising (instead of NaN) and then, like
    every row, has the column mean subtracted. Explained in
    ``notebooks/01_data_loading.ipynb``.

    Parameters
    ----------
    X : array-like of shape (n_items, n_features)

    Returns
    -------
    ndarray of shape (n_items, n_features), float64
        A new array; ``X`` is not modified.

    Examples
    --------
    >>> preprocess([[3.0, 4.0], [0.0, 2.0]])
    array([[ 0.3, -0.1],
           [-0.3,  0.1]])
    """
    X = check_features(X)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    unit = np.divide(X, norms, out=np.zeros_like(X), where=norms > 0)
    return unit - unit.mean(axis=0)


def default_split_sizes(n_items) -> tuple[float, float]:
    """``(query_size, train_size)`` used by :func:`split` when none are given.

    The protocol's 0.002 / 0.02 when that yields at least 100 queries
    (``n_items >= 49,501``), else 0.1 / 0.25 so small datasets still get
    enough queries and training items. Explained in
    ``notebooks/01_data_loading.ipynb``.
    """
    if np.ceil(PROTOCOL_QUERY_SIZE * n_items) >= MIN_PROTOCOL_QUERIES:
        return PROTOCOL_QUERY_SIZE, PROTOCOL_TRAIN_SIZE
    return SMALL_QUERY_SIZE, SMALL_TRAIN_SIZE


def split(X, y, query_size=None, train_size=None, random_state=42) -> Split:
    """Split into queries, a training set and a database, as the article does.

    Two ``train_test_split`` calls with the same ``random_state``: the first
    takes the queries from all rows, the second takes the training set from
    the rows left. Explained in ``notebooks/01_data_loading.ipynb``.

    Parameters
    ----------
    X : array-like of shape (n_items, n_features)
    y : array-like of shape (n_items,)
    query_size : int or float, optional
        Number of queries, or a fraction in (0, 1) of all rows (rounded up,
        as scikit-learn does). Default: see :func:`default_split_sizes`.
    train_size : int or float, optional
        Number of training items, or a fraction in (0, 1) of the rows left
        after removing the queries (not of all rows).
    random_state : int, default=42

    Returns
    -------
    Split

    Raises
    ------
    ValueError
        A size that is not a positive count or a fraction in (0, 1), or that
        leaves no queries, no training items or no database items.

    Examples
    --------
    CIFAR-10's 60,000 rows give 120 queries, 1,198 training and 58,682
    database items; digits' 1,797 rows give 180 / 405 / 1,212:

    >>> ds = load_digits()
    >>> split(ds.X, ds.y).sizes
    {'n_query': 180, 'n_train': 405, 'n_database': 1212}
    """
    X, y = check_features_labels(X, y)
    default_query, default_train = default_split_sizes(len(X))
    query_size = default_query if query_size is None else query_size
    train_size = default_train if train_size is None else train_size
    n_query = _resolve_size(query_size, len(X), "query_size", "queries", "rows")
    n_rest = len(X) - n_query
    if n_rest < 2:
        raise ValueError(
            f"query_size={query_size!r} takes {n_query} of {len(X)} rows as queries, leaving "
            f"{n_rest} for the training set and database (need at least 2); use a smaller query_size"
        )
    n_train = _resolve_size(train_size, n_rest, "train_size", "training items", "rows left")
    if n_train >= n_rest:
        raise ValueError(
            f"train_size={train_size!r} takes all {n_rest} rows left after the queries, leaving "
            "no database items; use a smaller train_size"
        )
    rows = np.arange(len(X))
    # Splitting the row numbers alongside X and y shuffles them identically
    # (one permutation per call), so the article's two calls are unchanged.
    X_rest, X_query, y_rest, y_query, rows_rest, rows_query = train_test_split(
        X, y, rows, test_size=query_size, random_state=random_state
    )
    X_database, X_train, y_database, y_train, rows_database, rows_train = train_test_split(
        X_rest, y_rest, rows_rest, test_size=train_size, random_state=random_state
    )
    return Split(
        X_query,
        y_query,
        X_train,
        y_train,
        X_database,
        y_database,
        rows_query,
        rows_train,
        rows_database,
    )


def _resolve_size(size, n_rows, param, items, rows):
    """The row count scikit-learn will take for ``size`` out of ``n_rows``."""
    if isinstance(size, (bool, np.bool_)):
        raise ValueError(f"{param} must be a count or a fraction in (0, 1), got {size!r}")
    if isinstance(size, (int, np.integer)):
        if size < 1:
            raise ValueError(f"{param}={size} leaves no {items}; use a count of at least 1")
        if size >= n_rows:
            raise ValueError(
                f"{param}={size} takes all {n_rows} {rows}; use a count below {n_rows}"
            )
        return int(size)
    if isinstance(size, (float, np.floating)) and 0 < size < 1:
        return int(np.ceil(size * n_rows))
    raise ValueError(
        f"{param} must be a count (int) or a fraction strictly between 0 and 1, got {size!r}; "
        f"a fraction of 0 would leave no {items}"
    )
