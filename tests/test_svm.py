"""The batched Newton SVM solver against sklearn's LinearSVC (liblinear), one column at a time."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import LinearSVC

from tutorial_lib.hashing.svm import fit_linear_svms

# Both solvers are run far below their default tolerances, so they can be held
# to each other tightly: measured deviations are at most 1.1e-7 of a column's
# largest entry, the tolerance below leaves a 10x margin.
TIGHT = 1e-10
COLUMN_RTOL = 1e-6


def problem(kind, seed=0, n=150, d=12, k=5):
    """``X`` (n x d) and +-1 targets (n x k) of one of three kinds."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if kind == "separable":  # offset hyperplanes: no training error possible
        scores = X @ rng.standard_normal((d, k)) + 0.5
    elif kind == "noisy":  # overlapping classes
        scores = X @ rng.standard_normal((d, k)) + 2.0 * rng.standard_normal((n, k))
    else:  # "unbalanced": 5% to 30% positives, unrelated to X
        scores = np.linspace(0.05, 0.3, k) - rng.random((n, k))
    return X, np.where(scores >= 0, 1.0, -1.0)


def liblinear(X, Y, C):
    """Weights (d x k) and intercepts (k,) of one tightly solved LinearSVC per column."""
    coef, intercept = np.empty((X.shape[1], Y.shape[1])), np.empty(Y.shape[1])
    for j in range(Y.shape[1]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # tol near float64 limits
            svm = LinearSVC(C=C, loss="squared_hinge", dual=False, tol=TIGHT, max_iter=10_000)
            svm.fit(X, Y[:, j])
        coef[:, j], intercept[j] = svm.coef_[0], svm.intercept_[0]
    return coef, intercept


def gradient(X, Y, C, coef, intercept):
    """Gradient of 0.5 (|w|^2 + b^2) + C sum max(0, 1 - y (w.x + b))^2, written out."""
    margins = X @ coef + intercept
    residual = np.where(Y * margins < 1, margins - Y, 0.0)
    return coef + 2 * C * X.T @ residual, intercept + 2 * C * residual.sum(axis=0)


@pytest.mark.parametrize("kind", ["separable", "noisy", "unbalanced"])
@pytest.mark.parametrize("C", [0.01, 1.0, 100.0])
def test_matches_linear_svc(kind, C):
    X, Y = problem(kind)
    result = fit_linear_svms(X, Y, C, tol=TIGHT)
    assert result.converged.all()
    coef, intercept = liblinear(X, Y, C)
    params = np.vstack([result.coef, result.intercept])
    expected = np.vstack([coef, intercept])
    for j in range(Y.shape[1]):
        scale = np.abs(expected[:, j]).max()
        np.testing.assert_allclose(params[:, j], expected[:, j], rtol=0, atol=COLUMN_RTOL * scale)


@pytest.mark.parametrize("kind", ["separable", "noisy", "unbalanced"])
def test_gradient_vanishes_at_solution(kind):
    X, Y = problem(kind, seed=1)
    tol = 1e-8
    result = fit_linear_svms(X, Y, 1.0, tol=tol)
    g_coef, g_intercept = gradient(X, Y, 1.0, result.coef, result.intercept)
    g_zero = gradient(X, Y, 1.0, np.zeros_like(result.coef), np.zeros(Y.shape[1]))
    norm = np.sqrt((g_coef**2).sum(axis=0) + g_intercept**2)
    norm_zero = np.sqrt((g_zero[0] ** 2).sum(axis=0) + g_zero[1] ** 2)
    assert (norm <= tol * norm_zero).all(), norm / norm_zero


def test_warm_start_reaches_the_same_optimum():
    X, Y = problem("noisy", seed=2)
    cold = fit_linear_svms(X, Y, 1.0, tol=1e-10)
    flipped = Y.copy()
    flipped[:3] *= -1  # as in GRH: the next iteration's targets differ in a few bits
    rng = np.random.default_rng(0)
    starts = {
        "previous solution": (cold.coef, cold.intercept),
        "random (worse than zero)": (50 * rng.standard_normal(cold.coef.shape), np.ones(5)),
    }
    reference = fit_linear_svms(X, flipped, 1.0, tol=1e-10)
    for start in starts.values():
        warm = fit_linear_svms(X, flipped, 1.0, tol=1e-10, init=start)
        np.testing.assert_allclose(warm.coef, reference.coef, rtol=0, atol=1e-8)
        np.testing.assert_allclose(warm.intercept, reference.intercept, rtol=0, atol=1e-8)
    # Starting next to the optimum saves Newton steps.
    warm = fit_linear_svms(X, flipped, 1.0, tol=1e-10, init=starts["previous solution"])
    assert warm.n_iter.sum() < reference.n_iter.sum()


def test_columns_are_independent_and_deterministic():
    X, Y = problem("noisy", seed=3)
    batch = fit_linear_svms(X, Y, 1.0)
    again = fit_linear_svms(X, Y, 1.0)
    np.testing.assert_array_equal(batch.coef, again.coef)  # no randomness anywhere
    np.testing.assert_array_equal(batch.intercept, again.intercept)
    single = fit_linear_svms(X, Y[:, [2]], 1.0, tol=1e-10)
    np.testing.assert_allclose(batch.coef[:, [2]], single.coef, rtol=0, atol=1e-6)


def test_one_class_column_is_rejected():
    X, Y = problem("noisy")
    Y[:, 3] = 1.0
    with pytest.raises(ValueError, match=r"target column 3 holds only one class"):
        fit_linear_svms(X, Y)


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        (np.zeros((150, 2)), "only -1 and \\+1"),
        (np.ones(150), "2-D array"),
        (np.resize([1.0, -1.0, -1.0], (149, 2)), "150 samples but Y has 149"),
    ],
)
def test_bad_targets(targets, message):
    X, _ = problem("noisy")
    with pytest.raises(ValueError, match=message):
        fit_linear_svms(X, targets)


def test_max_iter_warns_and_callback_reports():
    X, Y = problem("separable")
    calls = []
    with pytest.warns(ConvergenceWarning, match="5 of 5 SVMs did not reach"):
        result = fit_linear_svms(X, Y, 100.0, max_iter=2, callback=lambda *a: calls.append(a))
    assert not result.converged.any()
    assert (result.n_iter == 2).all()
    assert calls == [(1, 0), (2, 0)]
