"""Shared pieces of the benchmarks: synthetic data, timing, machine description."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import time
from functools import lru_cache

import numpy as np

from tutorial_lib.data import preprocess, split
from tutorial_lib.hashing import LSH

N_ITEMS = 60_000
N_FEATURES = 512
N_CLASSES = 10
CLASS_SCALE = 0.3
LATENT_RANK = 16
NOISE_SCALE = 0.3


@lru_cache(maxsize=1)
def synthetic_split(seed: int = 0):
    """60,000 x 512 Gaussian clusters, 10 classes, preprocessed and split 120/1,198/58,682.

    Stands in for CIFAR-10 GIST (same shape, same protocol) so the benchmark
    runs offline. The scales are chosen so LSH precision@10 at radius 0 is
    about 0.08 (the article's CIFAR-10 figure) and brute force about 0.55.
    """
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((N_CLASSES, N_FEATURES)).astype(np.float32)
    y = rng.integers(0, N_CLASSES, N_ITEMS)
    # A shared low-rank component (like GIST's correlated filter responses)
    # makes the codes cluster into uneven buckets instead of uniform ones.
    basis = rng.standard_normal((LATENT_RANK, N_FEATURES)).astype(np.float32)
    latent = rng.standard_normal((N_ITEMS, LATENT_RANK), dtype=np.float32)
    noise = rng.standard_normal((N_ITEMS, N_FEATURES), dtype=np.float32)
    X = CLASS_SCALE * centres[y] + latent @ basis / np.sqrt(LATENT_RANK) + NOISE_SCALE * noise
    return split(preprocess(X), y)


@lru_cache(maxsize=8)
def lsh_bits(n_bits: int, seed: int = 0):
    """LSH codes (database, queries) of the synthetic split."""
    data = synthetic_split()
    lsh = LSH(n_bits=n_bits, random_state=seed).fit(data.X_database)
    return lsh.transform(data.X_database), lsh.transform(data.X_query)


def uniform_bits(n: int, n_bits: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, n_bits)) < 0.5


def median_time(fn, *args, repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn(*args)`` in seconds over ``repeats`` runs after ``warmup``."""
    for _ in range(warmup):
        fn(*args)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def machine() -> dict:
    info = {
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
    }
    try:
        import faiss

        info["faiss"] = faiss.__version__
    except ImportError:
        info["faiss"] = "not installed"
    return info
