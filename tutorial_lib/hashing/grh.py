"""Graph Regularised Hashing (Moran & Lavrenko, ECIR 2015).

GRH starts from LSH hyperplanes and alternates two steps: smooth the
training codes over a similarity graph, then move every hyperplane to the
linear SVM that separates the smoothed bits with maximum margin.
Explained in ``notebooks/05_grh.ipynb``.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.kernel_approximation import Nystroem
from sklearn.svm import LinearSVC
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, validate_data
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from .codes import bits_to_keys, check_n_bits
from .lsh import LSH
from .svm import fit_linear_svms

KERNELS = ("linear", "rbf")
SOLVERS = ("newton", "liblinear")

# solver="newton": all bits' SVMs solved together by .svm.fit_linear_svms, to
# a relative gradient norm of NEWTON_TOL. Measured at the article's size, that
# leaves the hyperplanes about 3e-9 (relative) from the exact optimum, whereas
# LinearSVC at its default tol=1e-4 stops about 4e-5 from it (3e-4 on the
# 60-item test set): the batched solver is the more exact one. Newton converges
# quadratically near the optimum, so 1e-8 instead of 1e-6 costs about one step.
NEWTON_TOL = 1e-8
NEWTON_MAX_ITER = 100

# solver="liblinear", the SVM behind every bit: L2-regularised squared hinge loss solved in the
# primal (liblinear's trust-region Newton method), an intercept fitted (and,
# as liblinear does, lightly regularised). Why the primal: liblinear's dual
# solver shuffles with one process-wide random generator, so two bits fitted
# at once in threads perturb each other's shuffles and the hyperplanes change
# from run to run (measured: up to 2e-5). The primal solver draws no random
# numbers, so threads give the same hyperplanes as a serial loop, bit for bit.
# It converges in about 6 Newton steps here; max_iter is only a safety cap
# and the ConvergenceWarning is left on so a cap that binds is reported.
SVM_PARAMS = {"loss": "squared_hinge", "dual": False, "fit_intercept": True, "max_iter": 1000}

# Seeds handed to each LinearSVC: drawn with ``rng.randint(SEED_HIGH, size=n_bits)``.
SEED_HIGH = np.iinfo(np.int32).max


def _fit_svm(Z, targets, C, seed):
    """One bit's SVM with sklearn's LinearSVC (liblinear); returns ``(w, b)``."""
    svm = LinearSVC(C=C, random_state=seed, **SVM_PARAMS).fit(Z, targets)
    return svm.coef_.ravel(), float(svm.intercept_[0])


def _partition_liblinear(parallel, Z, B, to_fit, C, seeds, W, b, bar):
    """Step 3 with one LinearSVC per bit in ``to_fit``; writes into ``W`` and ``b``."""
    fitted = parallel(delayed(_fit_svm)(Z, B[:, j].astype(np.int8), C, seeds[j]) for j in to_fit)
    for j, (w, b_j) in zip(to_fit, fitted, strict=True):
        W[:, j], b[j] = w, b_j
        bar.update(1)


def _newton_chunk(Z, B, chunk, C, W, b, bar, iteration):
    """Batched Newton SVMs for the bits in ``chunk``, warm-started from ``W``, ``b``."""
    reported = 0

    def report(step, n_converged):
        nonlocal reported
        bar.set_postfix(iteration=iteration, newton_step=step)
        bar.update(n_converged - reported)
        reported = n_converged

    result = fit_linear_svms(
        Z,
        B[:, chunk],
        C,
        tol=NEWTON_TOL,
        max_iter=NEWTON_MAX_ITER,
        init=(W[:, chunk], b[chunk]),
        callback=report,
    )
    bar.update(chunk.size - reported)
    return result


def _partition_newton(parallel, n_threads, Z, B, to_fit, C, W, b, bar, iteration):
    """Step 3 for all bits in ``to_fit`` with the batched Newton solver; writes ``W``, ``b``.

    The bits are split into one chunk per thread, each solved by one batched
    call with single-threaded BLAS. Threads inside BLAS would synchronise on
    every matrix product, and on a busy machine (a core taken by another job)
    each product then waits for the slow thread: measured up to 8x slower at
    the article's size. Independent chunks only slow down by the share of CPU
    they lose. Other chunk sizes change the matrix shapes, hence the rounding:
    hyperplanes then differ by about 1e-15 (measured), bits not at all.

    Warm-started from the current hyperplanes: they are the previous
    iteration's SVMs, whose targets changed in a few bits only, so fewer
    Newton steps are needed. The optimum is unique, so the start does not
    change the answer (beyond the solver tolerance).
    """
    if not to_fit.size:
        return
    chunks = np.array_split(to_fit, min(n_threads, to_fit.size))
    with threadpool_limits(limits=1, user_api="blas"):
        results = list(
            parallel(
                delayed(_newton_chunk)(Z, B, chunk, C, W, b, bar, iteration) for chunk in chunks
            )
        )
    for chunk, result in zip(chunks, results, strict=True):
        W[:, chunk], b[chunk] = result.coef, result.intercept


def _hash(Z, hyperplanes, intercepts):
    """Bits of the mapped data ``Z``: ``Z @ W + b >= 0`` (0 counts as bit 1, i.e. +1)."""
    return Z @ hyperplanes + intercepts >= 0


def _median_gamma(X, max_rows=1000):
    """``1 / median`` squared distance between (at most ``max_rows``) training items."""
    rows = X[:: max(1, len(X) // max_rows)][:max_rows]
    squared = np.sum(rows**2, axis=1)
    distances = squared[:, None] + squared[None, :] - 2 * rows @ rows.T
    median = np.median(distances[np.triu_indices(len(rows), k=1)])
    return 1.0 / median if median > 0 else 1.0


def _check_similarity(similarity, n_samples):
    """Validate S and return it row-normalised (CSR if sparse, else dense)."""
    if sp.issparse(similarity):
        S = sp.csr_array(similarity, dtype=np.float64)
        values = S.data
    else:
        S = check_array(similarity, dtype=np.float64, ensure_2d=False, ensure_min_samples=0)
        values = S
    if S.shape != (n_samples, n_samples):
        raise ValueError(
            f"similarity must be a square matrix of shape ({n_samples}, {n_samples}) "
            f"(one row and column per training item), got shape {S.shape}"
        )
    if not np.isfinite(values).all():
        raise ValueError("similarity must hold only finite values")
    if (values < 0).any():
        raise ValueError("similarity must be nonnegative; found a negative entry")
    row_sums = np.asarray(S.sum(axis=1)).ravel()
    empty = np.flatnonzero(row_sums <= 0)
    if empty.size:
        raise ValueError(
            f"similarity row {empty[0]} sums to 0 ({empty.size} such rows): every training "
            "item needs at least one similar item; set S[i, i] = 1 to keep it as it is"
        )
    if sp.issparse(S):
        return sp.csr_array(sp.diags_array(1.0 / row_sums) @ S)
    return S / row_sums[:, None]


def _same_class_identical_labels(keys, class_index):
    """Share of same-class pairs (i < j) whose codes are identical, in O(n log n).

    Pairs with equal keys inside a class are counted from group sizes: a group
    of c equal (class, key) items holds c (c - 1) / 2 such pairs.
    """
    _, group_sizes = np.unique(
        np.stack([class_index.astype(np.uint64), keys], axis=1), axis=0, return_counts=True
    )
    class_sizes = np.bincount(class_index).astype(np.float64)
    n_pairs = (class_sizes * (class_sizes - 1) / 2).sum()
    if n_pairs == 0:
        return float("nan")
    return float((group_sizes * (group_sizes - 1.0) / 2).sum() / n_pairs)


def _same_class_identical_similarity(keys, S, chunk_rows=1024):
    """Share of ordered pairs i != j with S_ij > 0 whose codes are identical.

    Sparse S: one pass over its stored entries. Dense S: row blocks of
    ``chunk_rows`` so memory stays O(chunk_rows * n); the time is O(n^2), the
    same order as the dense product S @ B that training already pays.
    """
    if sp.issparse(S):
        coo = S.tocoo()
        keep = (coo.data > 0) & (coo.row != coo.col)
        rows, cols = coo.row[keep], coo.col[keep]
        if rows.size == 0:
            return float("nan")
        return float(np.mean(keys[rows] == keys[cols]))
    n_pairs = n_identical = 0
    for start in range(0, S.shape[0], chunk_rows):
        block = S[start : start + chunk_rows] > 0
        idx = np.arange(start, start + block.shape[0])
        block[idx - start, idx] = False  # drop i == j
        n_pairs += int(block.sum())
        n_identical += int((block & (keys[idx, None] == keys[None, :])).sum())
    return n_identical / n_pairs if n_pairs else float("nan")


class GRH(TransformerMixin, BaseEstimator):
    """Graph Regularised Hashing: LSH hyperplanes refined by graph smoothing and SVMs.

    Starting from LSH hyperplanes ``W``, each of ``n_iter`` iterations does:

    1. ``B = sign(X W)`` in {-1, +1} on the training set (0 counts as +1);
    2. graph regularisation: ``R = sign(S B)`` and
       ``B = sign(alpha R + (1 - alpha) B)`` (0 counts as +1), where ``S`` is
       the row-normalised similarity graph;
    3. for every bit j, a linear SVM with penalty ``C`` is fitted to the
       targets ``B[:, j]`` and its weight vector becomes hyperplane j. A bit
       whose targets are all equal has nothing to separate: its hyperplane is
       redrawn at random (standard normal), as in the original code.

    ``S`` comes from class labels (``S_ij = 1`` when i and j share a class,
    each row divided by its sum) or is given. With labels, ``S B`` is simply
    each item's class-mean code, computed in O(n * n_bits) without building
    the n x n matrix.

    Note on ``alpha``: ``R`` and ``B`` are both +-1, so ``alpha R`` can only
    outvote ``(1 - alpha) B`` when ``alpha > 0.5``. With ``alpha < 0.5``
    (the article's 0.25) step 2 leaves ``B`` unchanged, the supervision
    has no effect, and each iteration refits the SVMs to the current codes.

    Explained in ``notebooks/05_grh.ipynb``.

    Parameters
    ----------
    n_bits : int, default=16
        Code length, 1 to 64.
    n_iter : int, default=2
        Number of regularise-then-partition iterations; 0 keeps the LSH start.
    alpha : float, default=0.25
        Weight of the neighbours' vote ``R`` against an item's own bit, in [0, 1].
    C : float, default=1.0
        Penalty of every linear SVM: L2-regularised squared hinge loss with a
        (lightly regularised) intercept, liblinear's primal problem.
    solver : {'newton', 'liblinear'}, default='newton'
        How the per-bit SVMs are solved. ``'newton'`` solves all bits at once
        with a batched truncated Newton method (``.svm.fit_linear_svms``),
        warm-started from the previous iteration; ``'liblinear'`` fits one
        sklearn ``LinearSVC`` per bit, the reference. Both solve the same
        convex problem, whose optimum is unique; Newton is solved to a tighter
        tolerance than LinearSVC's default, so hyperplanes differ by
        LinearSVC's own error (about 1e-4 relative) and the bits agree. ``'newton'`` is several
        times faster (all bits share each pass over the data).
    kernel : {'linear', 'rbf'}, default='linear'
        ``'rbf'`` first maps the data with an RBF feature map on
        ``n_landmarks`` landmarks (Nystroem), the original code's
        landmark-RBF variant; hyperplanes then live in that space.
    n_landmarks : int, default=300
        Landmarks of the RBF map; capped at the training-set size.
    gamma : float or None, default=None
        RBF width ``exp(-gamma ||x - l||^2)``; None means the median heuristic,
        ``1 / median squared distance`` between training items (stored as
        ``gamma_``). scikit-learn's ``1 / n_features`` would make every kernel
        value close to 1 on unit-length features, and most bits constant.
    intercept : bool, default=False
        False hashes with ``sign(w . x)`` as the article does, so the tutorial
        reproduces it; True uses the paper's ``sign(w . x + b)`` with the SVM
        intercept ``b``. On centred data the two differ little.
    init_hyperplanes : array-like of shape (n_features_mapped, n_bits), default=None
        Starting hyperplanes; None draws LSH hyperplanes.
    random_state : int, RandomState instance or None, default=0
        Seeds the LSH start, the RBF landmarks, the liblinear SVMs and any
        redrawn hyperplane; the same seed gives the same bits. The Newton
        solver draws no random numbers.
    n_jobs : int or None, default=None
        Threads fitting the SVMs; None means 1, -1 means all cores. With
        ``solver='liblinear'`` each thread fits one bit at a time (liblinear
        releases the GIL). With ``solver='newton'`` the bits are split into
        one batch per thread, and BLAS runs single-threaded inside each, which
        stays fast on a busy machine. Results do not depend on it (with
        ``'newton'``: up to rounding, about 1e-15).
    progress : bool, default=False
        Show a tqdm progress bar over iterations and bits (a bit counts when
        its SVM is done); with ``solver='newton'`` it also shows the Newton step.

    Attributes
    ----------
    hyperplanes_ : ndarray of shape (n_features_mapped, n_bits)
        One hyperplane normal per bit, in the (mapped) feature space.
    intercepts_ : ndarray of shape (n_bits,)
        SVM intercepts; used for hashing only when ``intercept=True``.
        0 for the LSH start and for redrawn hyperplanes.
    feature_map_ : Nystroem or None
        The fitted RBF map, or None for ``kernel='linear'``.
    history_ : dict of lists
        One entry per iteration, starting with iteration 0 (the LSH codes):
        ``iteration``; ``bits_changed``, the fraction of training bits that
        differ from the previous iteration (NaN at 0); ``same_class_identical``,
        the share of similar training pairs (same class, or ``S_ij > 0``)
        whose codes are identical; ``redrawn``, hyperplanes redrawn.
    n_redrawn_ : int
        Total number of redrawn hyperplanes over all iterations.
    n_features_in_ : int

    Examples
    --------
    Two classes, below and above the x-axis. The random LSH hyperplane cuts
    across both; GRH moves it so that one bit tells the classes apart.

    >>> import numpy as np
    >>> X = np.array([[1.0, -2.0], [-1.0, -1.5], [0.5, -1.0],
    ...               [-0.5, 1.0], [1.0, 1.5], [-1.0, 2.0]])
    >>> y = np.array([0, 0, 0, 1, 1, 1])
    >>> LSH(n_bits=1, random_state=0).fit(X).transform(X).ravel()
    array([ True, False,  True, False,  True, False])
    >>> grh = GRH(n_bits=1, n_iter=2, alpha=0.75, random_state=0).fit(X, y)
    >>> grh.transform(X).ravel()
    array([ True,  True,  True, False, False, False])
    >>> grh.history_["same_class_identical"]  # iteration 0 is the LSH start
    [0.3333333333333333, 1.0, 1.0]
    """

    def __init__(
        self,
        n_bits=16,
        n_iter=2,
        alpha=0.25,
        C=1.0,
        solver="newton",
        kernel="linear",
        n_landmarks=300,
        gamma=None,
        intercept=False,
        init_hyperplanes=None,
        random_state=0,
        n_jobs=None,
        progress=False,
    ):
        self.n_bits = n_bits
        self.n_iter = n_iter
        self.alpha = alpha
        self.C = C
        self.solver = solver
        self.kernel = kernel
        self.n_landmarks = n_landmarks
        self.gamma = gamma
        self.intercept = intercept
        self.init_hyperplanes = init_hyperplanes
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.progress = progress

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True  # supervised: fit needs y (or similarity)
        tags.transformer_tags.preserves_dtype = []  # output is bool codes
        return tags

    def _check_params(self):
        check_n_bits(self.n_bits)
        if (
            isinstance(self.n_iter, bool)
            or not isinstance(self.n_iter, Integral)
            or self.n_iter < 0
        ):
            raise ValueError(f"n_iter must be an integer >= 0, got {self.n_iter!r}")
        if not isinstance(self.alpha, Real) or not 0 <= self.alpha <= 1:
            raise ValueError(f"alpha must be a number between 0 and 1, got {self.alpha!r}")
        if not isinstance(self.C, Real) or not self.C > 0:
            raise ValueError(f"C must be a positive number, got {self.C!r}")
        if self.solver not in SOLVERS:
            raise ValueError(f"solver must be one of {SOLVERS}, got {self.solver!r}")
        if self.kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {self.kernel!r}")
        if (
            isinstance(self.n_landmarks, bool)
            or not isinstance(self.n_landmarks, Integral)
            or self.n_landmarks < 1
        ):
            raise ValueError(f"n_landmarks must be an integer >= 1, got {self.n_landmarks!r}")
        if self.gamma is not None and (not isinstance(self.gamma, Real) or not self.gamma > 0):
            raise ValueError(f"gamma must be a positive number or None, got {self.gamma!r}")

    def fit(self, X, y=None, *, similarity=None):
        """Learn the hyperplanes from ``X`` and class labels ``y`` or a ``similarity`` graph.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features (preprocessed: L2-normalised, mean-centred).
        y : array-like of shape (n_samples,), default=None
            Class labels; items sharing a label are similar.
        similarity : ndarray or scipy sparse matrix of shape (n_samples, n_samples), default=None
            Nonnegative similarity graph, used instead of ``y``; each row is
            divided by its sum, so every row needs a positive entry.

        Returns
        -------
        self : GRH
        """
        self._check_params()
        if y is None and similarity is None:
            raise ValueError(
                "GRH requires y to be passed, but the target y is None: pass class labels, "
                "GRH().fit(X, y), or a similarity graph, GRH().fit(X, similarity=S)"
            )
        if y is not None and similarity is not None:
            raise ValueError("pass either y or similarity to GRH.fit, not both")

        if y is not None:
            X, y = validate_data(self, X, y, dtype=np.float64)
            check_classification_targets(y)
            classes, class_index = np.unique(y, return_inverse=True)
            if classes.size < 2:
                raise ValueError(
                    f"y holds only one class ({classes[0].tolist()!r}); GRH needs at least 2 classes"
                )
            S = None
        else:
            X = validate_data(self, X, dtype=np.float64)
            S = _check_similarity(similarity, X.shape[0])
            class_index = None

        rng = check_random_state(self.random_state)
        n_bits, alpha = self.n_bits, float(self.alpha)

        if self.kernel == "rbf":
            # Seeded from rng before the LSH start draws, so for kernel="linear"
            # (no map) the start is exactly LSH(n_bits, random_state=seed).
            self.gamma_ = _median_gamma(X) if self.gamma is None else float(self.gamma)
            self.feature_map_ = Nystroem(
                kernel="rbf",
                gamma=self.gamma_,
                n_components=min(self.n_landmarks, X.shape[0]),
                random_state=rng,
            ).fit(X)
            Z = self.feature_map_.transform(X)
        else:
            self.feature_map_, self.gamma_ = None, None
            Z = X

        if self.init_hyperplanes is None:
            W = LSH(n_bits=n_bits, random_state=rng).fit(Z).hyperplanes_.copy()
        else:
            W = check_array(self.init_hyperplanes, dtype=np.float64, copy=True)
            if W.shape != (Z.shape[1], n_bits):
                raise ValueError(
                    f"init_hyperplanes must have shape (n_features_mapped, n_bits) = "
                    f"({Z.shape[1]}, {n_bits}), got {W.shape}"
                )
        b = np.zeros(n_bits)

        def intercepts():
            return b if self.intercept else np.zeros(n_bits)

        codes = _hash(Z, W, intercepts())
        history = {"iteration": [], "bits_changed": [], "same_class_identical": [], "redrawn": []}

        def record(iteration, codes, previous, redrawn):
            keys = bits_to_keys(codes)
            if class_index is not None:
                identical = _same_class_identical_labels(keys, class_index)
            else:
                identical = _same_class_identical_similarity(keys, S)
            changed = float("nan") if previous is None else float(np.mean(codes != previous))
            history["iteration"].append(iteration)
            history["bits_changed"].append(changed)
            history["same_class_identical"].append(identical)
            history["redrawn"].append(redrawn)

        record(0, codes, None, 0)
        if class_index is not None:
            # One-hot (n_classes x n) so that members @ B sums each class's codes.
            n = class_index.size
            members = sp.csr_array(
                (np.ones(n), (class_index, np.arange(n))), shape=(classes.size, n)
            )

        n_jobs = 1 if self.n_jobs is None else self.n_jobs
        with (
            tqdm(total=self.n_iter * n_bits, desc="GRH", disable=not self.progress) as bar,
            Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator") as parallel,
        ):
            for iteration in range(1, self.n_iter + 1):
                bar.set_postfix(iteration=iteration)
                # Step 1: current codes as +-1 (0 already counted as +1 by _hash).
                B = np.where(codes, 1.0, -1.0)
                # Step 2: R = sign(S B). With labels, row i of S B is the mean
                # code of i's class; its sign is the sign of the class sum.
                SB = (members @ B)[class_index] if class_index is not None else S @ B
                R = np.sign(SB)  # a tie (0) leaves the item's own bit to decide
                B = np.where(alpha * R + (1 - alpha) * B >= 0, 1.0, -1.0)

                # Step 3: one SVM per bit; constant bits are redrawn at random.
                # Seeds are drawn for both solvers (Newton ignores them) so that
                # redrawn hyperplanes are the same random numbers either way.
                seeds = rng.randint(SEED_HIGH, size=n_bits)
                constant = np.flatnonzero(np.ptp(B, axis=0) == 0)  # all targets equal
                for j in constant:
                    W[:, j] = rng.standard_normal(Z.shape[1])
                    b[j] = 0.0
                bar.update(constant.size)
                to_fit = np.setdiff1d(np.arange(n_bits), constant)
                if self.solver == "liblinear":
                    _partition_liblinear(parallel, Z, B, to_fit, self.C, seeds, W, b, bar)
                else:
                    n_threads = effective_n_jobs(n_jobs)
                    _partition_newton(
                        parallel, n_threads, Z, B, to_fit, self.C, W, b, bar, iteration
                    )

                previous, codes = codes, _hash(Z, W, intercepts())
                record(iteration, codes, previous, int(constant.size))

        self.hyperplanes_ = W
        self.intercepts_ = b
        self.history_ = history
        self.n_redrawn_ = int(sum(history["redrawn"]))
        return self

    def transform(self, X):
        """Hash ``X`` to bits, shape ``(n_samples, n_bits)``, dtype bool."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        Z = X if self.feature_map_ is None else self.feature_map_.transform(X)
        return _hash(Z, self.hyperplanes_, self.intercepts_ if self.intercept else 0.0)
