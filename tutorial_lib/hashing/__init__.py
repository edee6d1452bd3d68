"""Hash functions: random-hyperplane LSH, Graph Regularised Hashing, code helpers."""

from .codes import MAX_BITS, bits_to_keys, check_n_bits, hamming_distance_matrix, keys_to_bits
from .grh import GRH
from .lsh import LSH

__all__ = [
    "GRH",
    "LSH",
    "MAX_BITS",
    "bits_to_keys",
    "check_n_bits",
    "hamming_distance_matrix",
    "keys_to_bits",
]
