"""Locality Sensitive Hashing with random hyperplanes (sign random projections)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .codes import check_n_bits


class LSH(TransformerMixin, BaseEstimator):
    """Random-hyperplane LSH: bit j of x is ``x . w_j >= 0``.

    Two vectors at angle theta disagree on a random hyperplane's bit with
    probability theta / pi, so close vectors tend to share codes.
    Explained in ``notebooks/02_lsh.ipynb``.

    Parameters
    ----------
    n_bits : int, default=16
        Code length, 1 to 64.
    random_state : int, RandomState instance or None, default=0
        Seeds the hyperplanes; the same seed gives the same bits.

    Attributes
    ----------
    hyperplanes_ : ndarray of shape (n_features, n_bits)
        Standard-normal hyperplane normals, one column per bit.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.2], [0.9, 0.1], [-1.0, -0.3]])
    >>> bits = LSH(n_bits=4, random_state=0).fit(X).transform(X)
    >>> bits.shape, bits.dtype
    ((3, 4), dtype('bool'))
    >>> bool((bits[0] == bits[1]).all()), bool((bits[0] != bits[2]).all())
    (True, True)
    """

    def __init__(self, n_bits=16, random_state=0):
        self.n_bits = n_bits
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []  # output is bool codes, not floats
        return tags

    def fit(self, X, y=None):
        """Draw the hyperplanes; only the feature count of ``X`` is used."""
        check_n_bits(self.n_bits)
        X = validate_data(self, X, dtype=np.float64)
        rng = check_random_state(self.random_state)
        self.hyperplanes_ = rng.standard_normal((self.n_features_in_, self.n_bits))
        return self

    def transform(self, X):
        """Hash ``X`` to bits, shape ``(n_samples, n_bits)``, dtype bool."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X @ self.hyperplanes_ >= 0
