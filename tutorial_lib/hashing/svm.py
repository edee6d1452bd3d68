"""Many linear SVMs on the same data at once: a batched truncated Newton solver.

GRH fits one linear SVM per bit, all on the same training matrix ``X`` and
differing only in their +-1 targets. Fitted one at a time (sklearn's
``LinearSVC``) every fit copies ``X`` into liblinear's sparse format and
runs its own matrix-vector products. Here all bits share each pass over
``X``: the products become matrix-matrix products (BLAS level 3), which is
where the speed comes from.

The problem solved for every target column ``y`` is exactly liblinear's
primal L2-regularised squared-hinge SVM with an intercept, as solved by
``LinearSVC(C=C, loss='squared_hinge', dual=False, fit_intercept=True,
intercept_scaling=1)``::

    min_{w, b}  0.5 (||w||^2 + b^2) + C sum_i max(0, 1 - y_i (w . x_i + b))^2

The intercept ``b`` is regularised like a weight because liblinear treats
it as the weight of an extra feature that is 1 for every sample. The
objective is strictly convex, so its minimiser is unique and any starting
point (a warm start included) leads to the same answer.

The method is liblinear's: Newton steps computed inexactly by
preconditioned conjugate gradients (CG) using Hessian-vector products,
then a backtracking line search. Every bit keeps its own CG and line-search
scalars (vectorised over columns); converged bits leave the batch.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
from sklearn.exceptions import ConvergenceWarning

# Armijo constant of the line search: accept a step that achieves at least
# this share of the decrease predicted by the gradient (liblinear uses 0.01).
ARMIJO = 0.01
# Halvings of the step before the line search gives up on a bit.
MAX_HALVINGS = 30
# Forcing term of the inexact Newton step: CG stops when its residual is
# below ETA_MAX * ||g|| (early, cheap steps far from the optimum), tightened
# to sqrt(||g|| / ||g0||) * ||g|| near it so the outer steps stay superlinear.
ETA_MAX = 0.1


class BatchedSVM(NamedTuple):
    """Result of :func:`fit_linear_svms`.

    Attributes
    ----------
    coef : ndarray of shape (n_features, n_targets)
        Weight vector of every SVM, one column per target column.
    intercept : ndarray of shape (n_targets,)
        Intercept of every SVM.
    n_iter : ndarray of shape (n_targets,)
        Newton steps taken per SVM.
    n_cg_iter : int
        Conjugate-gradient iterations, in total over all Newton steps (each
        one is one pass of two matrix products over ``X``).
    converged : ndarray of shape (n_targets,), dtype bool
        Whether each SVM met the tolerance within ``max_iter`` steps.
    """

    coef: np.ndarray
    intercept: np.ndarray
    n_iter: np.ndarray
    n_cg_iter: int
    converged: np.ndarray


def _column_dot(A, B):
    """Dot product of every column of ``A`` with the same column of ``B``."""
    return np.einsum("ij,ij->j", A, B)


def _forward(X, P):
    """``[X, 1] @ P``: the last row of ``P`` multiplies the constant feature (the bias)."""
    return X @ P[:-1] + P[-1]


def _backward(X, E):
    """``[X, 1].T @ E`` without copying ``X`` into an augmented matrix."""
    return np.vstack([X.T @ E, E.sum(axis=0, keepdims=True)])


def _loss_terms(M, Y):
    """Active mask ``y m < 1`` and the squared-hinge sum of every column."""
    slack = np.maximum(1.0 - Y * M, 0.0)
    return slack > 0, _column_dot(slack, slack)


def _objective(P, M, Y, C):
    """Per-column objective at parameters ``P`` with margins ``M = [X, 1] @ P``."""
    _, hinge = _loss_terms(M, Y)
    return 0.5 * _column_dot(P, P) + C * hinge


def _gradient(X, P, M, Y, C):
    """Gradient ``P + 2C [X, 1]^T (D * (M - Y))`` and the active mask ``D``.

    On an active sample ``(1 - y m)^2`` has derivative ``-2 y (1 - y m) = 2 (m - y)``
    in ``m`` because ``y^2 = 1``.
    """
    active, _ = _loss_terms(M, Y)
    return P + 2.0 * C * _backward(X, np.where(active, M - Y, 0.0)), active


def _hessian_product(X, V, XV, active, C):
    """Generalised Hessian times ``V``: ``V + 2C [X, 1]^T (D * XV)`` with ``XV = [X, 1] V``."""
    return V + 2.0 * C * _backward(X, np.where(active, XV, 0.0))


def _preconditioner(X_squared, active, C):
    """Diagonal of every column's Hessian, ``1 + 2C sum_{i active} x_i^2``.

    The constant feature (the bias) is 1 on every active sample, while an
    entry of a unit-norm row is about ``1 / sqrt(n_features)``: its Hessian
    entry is about ``n_features`` times the others. Dividing by the diagonal
    evens that out and cuts the CG iterations.
    """
    counts = active.astype(np.float64)
    return 1.0 + 2.0 * C * np.vstack([X_squared.T @ counts, counts.sum(axis=0, keepdims=True)])


def _newton_direction(X, G, active, X_squared, C, eta, max_cg):
    """Solve ``H s = -g`` per column by preconditioned CG, to ``||r|| <= eta ||g||``.

    Returns the steps ``S``, their margins ``[X, 1] S`` (accumulated from the
    CG products, so the line search needs no extra pass over ``X``) and the
    number of CG iterations. Columns whose residual is small enough stop
    early and leave the matrix products.
    """
    k = G.shape[1]
    precond = _preconditioner(X_squared, active, C)
    S = np.zeros_like(G)
    XS = np.zeros((X.shape[0], k))
    R = -G
    Z = R / precond
    Pdir = Z.copy()
    rz = _column_dot(R, Z)
    limit = eta * np.sqrt(_column_dot(G, G))
    todo = np.arange(k)
    n_cg = 0
    while todo.size and n_cg < max_cg:
        n_cg += 1
        P = Pdir[:, todo]
        XP = _forward(X, P)
        HP = _hessian_product(X, P, XP, active[:, todo], C)
        step = rz[todo] / _column_dot(P, HP)
        S[:, todo] += step * P
        XS[:, todo] += step * XP
        R[:, todo] -= step * HP
        # Columns whose residual is small enough stop here; only the rest go on.
        going = np.sqrt(_column_dot(R[:, todo], R[:, todo])) > limit[todo]
        todo = todo[going]
        Z = R[:, todo] / precond[:, todo]
        rz_new = _column_dot(R[:, todo], Z)
        Pdir[:, todo] = Z + (rz_new / rz[todo]) * Pdir[:, todo]
        rz[todo] = rz_new
    return S, XS, n_cg


def _line_search(P, S, M, XS, Y, C, G):
    """Backtracking (Armijo) step size per column along ``S``, halving from 1.

    Along ``P + a S`` the margins are ``M + a XS``, so every trial costs
    O(n * k) elementwise work and no matrix product. The test uses the change
    of the objective, summed from per-sample changes: near the optimum that
    change is far below the rounding error of the objective itself, and
    comparing two rounded objectives would reject good steps. For the same
    reason a sample active at both ends changes its slack by exactly
    ``-a y q`` (``q`` its margin along ``S``), used instead of a difference.

    Returns
    -------
    a : ndarray of shape (n_targets,)
        Accepted step sizes; 0 where no step passed.
    failed : ndarray of shape (n_targets,), dtype bool
        Columns where ``MAX_HALVINGS`` halvings found no decrease.
    """
    slope = _column_dot(G, S)  # < 0: a CG step is a descent direction
    PS, SS = _column_dot(P, S), _column_dot(S, S)
    raw = 1.0 - Y * M  # slack before clipping at 0
    YQ = Y * XS
    a = np.ones(S.shape[1])
    todo = np.arange(S.shape[1])
    for _ in range(MAX_HALVINGS):
        t, yq = a[todo], YQ[:, todo]
        old = np.maximum(raw[:, todo], 0.0)
        new = np.maximum(raw[:, todo] - t * yq, 0.0)
        diff = np.where((new > 0) & (old > 0), -t * yq, new - old)
        hinge_change = _column_dot(diff, new + old)
        change = t * PS[todo] + 0.5 * t * t * SS[todo] + C * hinge_change
        todo = todo[change > ARMIJO * t * slope[todo]]
        if not todo.size:
            break
        a[todo] *= 0.5
    failed = np.zeros(S.shape[1], dtype=bool)
    failed[todo] = True
    a[todo] = 0.0
    return a, failed


def _check_targets(Y):
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim != 2:
        raise ValueError(f"Y must be a 2-D array of +-1 targets, got shape {Y.shape}")
    if not np.isin(Y, (-1.0, 1.0)).all():
        raise ValueError("Y must hold only -1 and +1")
    one_class = np.flatnonzero(np.ptp(Y, axis=0) == 0) if Y.shape[0] else np.arange(Y.shape[1])
    if one_class.size:
        raise ValueError(
            f"target column {one_class[0]} holds only one class ({one_class.size} such "
            "columns): an SVM needs both -1 and +1 (LinearSVC refuses it too; GRH redraws "
            "such bits instead of fitting them)"
        )
    return Y


def _start(X, Y, C, init):
    """Starting parameters: per column the better of zero and ``init`` (warm start).

    A warm start that is worse than zero (e.g. a random hyperplane) would
    only cost Newton steps, so each column keeps whichever has the lower
    objective. Zero has margins 0 and objective ``C n``.
    """
    n, d = X.shape
    P = np.zeros((d + 1, Y.shape[1]))
    if init is None:
        return P, np.zeros_like(Y)
    coef, intercept = init
    warm = np.vstack([np.asarray(coef, dtype=np.float64), np.asarray(intercept, dtype=np.float64)])
    if warm.shape != P.shape:
        raise ValueError(f"init must give coef ({d}, k) and intercept (k,), got {warm.shape}")
    M = _forward(X, warm)
    better = _objective(warm, M, Y, C) < C * n
    P[:, better] = warm[:, better]
    return P, np.where(better, M, 0.0)


def fit_linear_svms(X, Y, C=1.0, *, tol=1e-6, max_iter=100, init=None, callback=None):
    """Fit one L2-regularised squared-hinge linear SVM per column of ``Y``, all at once.

    Each column's solution is the one ``LinearSVC(C=C, loss='squared_hinge',
    dual=False, fit_intercept=True)`` approximates, to the tolerance given here.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Training data, shared by every SVM (used as float64).
    Y : ndarray of shape (n_samples, n_targets)
        Targets in {-1, +1}; every column needs both values.
    C : float, default=1.0
        Penalty of the squared hinge loss.
    tol : float, default=1e-6
        A column has converged when its gradient norm is at most ``tol``
        times the gradient norm at zero (liblinear's relative criterion,
        which liblinear also multiplies by the smaller class's share of samples).
    max_iter : int, default=100
        Newton steps at most per column; a ``ConvergenceWarning`` reports
        columns that reach it.
    init : tuple (coef, intercept) or None, default=None
        Warm start, shapes ``(n_features, n_targets)`` and ``(n_targets,)``.
        It only changes the path, not the (unique) solution; a column whose
        start is worse than zero starts from zero instead.
    callback : callable or None, default=None
        Called after every Newton step as ``callback(step, n_converged)``.

    Returns
    -------
    BatchedSVM
        ``coef``, ``intercept``, per-column Newton steps ``n_iter``, total
        ``n_cg_iter`` and the ``converged`` flags.
    """
    X = np.asarray(X, dtype=np.float64)
    Y = _check_targets(Y)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} samples but Y has {Y.shape[0]}")
    if not C > 0:
        raise ValueError(f"C must be positive, got {C!r}")
    n, d = X.shape
    k = Y.shape[1]
    P, M = _start(X, Y, C, init)
    X_squared = X * X
    # At zero all samples are active with m = 0, so g0 = -2C [X, 1]^T Y.
    G0 = 2.0 * C * _backward(X, Y)
    g0_norm = np.sqrt(_column_dot(G0, G0))
    n_iter = np.zeros(k, dtype=int)
    converged = np.zeros(k, dtype=bool)
    todo = np.arange(k)
    n_cg_total = 0
    for step in range(max_iter + 1):
        G, active = _gradient(X, P[:, todo], M[:, todo], Y[:, todo], C)
        g_norm = np.sqrt(_column_dot(G, G))
        done = g_norm <= tol * g0_norm[todo]
        converged[todo[done]] = True
        if done.all() or step == max_iter:
            break
        # Converged columns leave the batch: later products skip them.
        keep = ~done
        todo, G, active, g_norm = todo[keep], G[:, keep], active[:, keep], g_norm[keep]
        eta = np.minimum(ETA_MAX, np.sqrt(g_norm / g0_norm[todo]))
        S, XS, n_cg = _newton_direction(X, G, active, X_squared, C, eta, max_cg=d + 1)
        n_cg_total += n_cg
        a, failed = _line_search(P[:, todo], S, M[:, todo], XS, Y[:, todo], C, G)
        P[:, todo] += a * S
        # Margins follow the step exactly (up to rounding) without a pass over X.
        M[:, todo] += a * XS
        n_iter[todo] += 1
        if callback is not None:
            callback(step + 1, int(converged.sum()))
        # No decrease along a descent direction: float64 precision is exhausted.
        todo = todo[~failed]
        if not todo.size:
            break
    if not converged.all():
        warnings.warn(
            f"{np.sum(~converged)} of {k} SVMs did not reach tol={tol:g}: they ran out of "
            f"max_iter={max_iter} Newton steps or, for a tol near float64 precision, "
            "the line search found no further decrease",
            ConvergenceWarning,
            stacklevel=2,
        )
    return BatchedSVM(P[:-1].copy(), P[-1].copy(), n_iter, n_cg_total, converged)
