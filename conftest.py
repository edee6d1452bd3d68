"""Pin the test run offline: no network, no user cache, no GUI backend.

At the repository root so it applies to `pytest`, `pytest tests` and `pytest notebooks` alike.

Set in ``pytest_configure`` (before collection) so the library, and the
notebook kernels started by nbval, inherit these variables.
"""

import os
import shutil
import tempfile

_data_dir = None


def pytest_configure(config):
    global _data_dir
    _data_dir = tempfile.mkdtemp(prefix="tutorial_lib_test_data_")
    # Offline: "auto" gives the bundled digits dataset, and nothing can download.
    os.environ["TUTORIAL_LIB_OFFLINE"] = "1"
    # An empty cache of our own, so a user's cached CIFAR-10 file is never read or written.
    os.environ["TUTORIAL_LIB_DATA"] = _data_dir
    os.environ["MPLBACKEND"] = "Agg"


def pytest_unconfigure(config):
    if _data_dir is not None:
        shutil.rmtree(_data_dir, ignore_errors=True)
