import numpy as np
import pytest

from tests.helpers import random_codes
from tutorial_lib.hashing import LSH, bits_to_keys, hamming_distance_matrix, keys_to_bits


@pytest.mark.parametrize("n_bits", [1, 7, 8, 9, 16, 33, 63, 64])
def test_keys_round_trip_and_big_endian(n_bits):
    bits = random_codes(200, n_bits, seed=n_bits)
    keys = bits_to_keys(bits)
    assert keys.dtype == np.uint64
    np.testing.assert_array_equal(keys_to_bits(keys, n_bits), bits)
    # Big-endian by the definition: sum of bit_j * 2**(n_bits - 1 - j).
    expected = [sum(int(b) << (n_bits - 1 - j) for j, b in enumerate(row)) for row in bits[:20]]
    assert [int(k) for k in keys[:20]] == expected


def test_bits_to_keys_hand_worked():
    assert bits_to_keys([[1, 0, 0, 0]]).tolist() == [8]
    assert bits_to_keys([[0, 0, 0, 1]]).tolist() == [1]
    assert bits_to_keys(np.ones((1, 64), bool)).tolist() == [2**64 - 1]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros((2, 65), bool), "between 1 and 64, got 65"),
        (np.zeros((2, 0), bool), "between 1 and 64, got 0"),
        (np.zeros(5, bool), "2-D"),
        (np.full((2, 3), 2), "0/1"),
    ],
)
def test_bits_to_keys_rejects_bad_input(bad, message):
    with pytest.raises(ValueError, match=message):
        bits_to_keys(bad)


def test_keys_to_bits_rejects_key_too_long():
    with pytest.raises(ValueError, match="does not fit in 3 bits"):
        keys_to_bits([8], 3)


def test_hamming_distance_matrix_matches_bit_count():
    a, b = random_codes(30, 40, seed=1), random_codes(50, 40, seed=2)
    expected = (a[:, None, :] != b[None, :, :]).sum(axis=2)
    np.testing.assert_array_equal(
        hamming_distance_matrix(bits_to_keys(a), bits_to_keys(b)), expected
    )


def test_lsh_is_the_sign_of_the_projection():
    X = np.random.default_rng(0).standard_normal((100, 12))
    lsh = LSH(n_bits=10, random_state=3).fit(X)
    assert lsh.hyperplanes_.shape == (12, 10)
    np.testing.assert_array_equal(
        lsh.hyperplanes_, np.random.RandomState(3).standard_normal((12, 10))
    )
    np.testing.assert_array_equal(lsh.transform(X), X @ lsh.hyperplanes_ >= 0)


def test_lsh_zero_projection_counts_as_one():
    lsh = LSH(n_bits=4, random_state=0).fit(np.ones((2, 3)))
    assert lsh.transform(np.zeros((1, 3))).all()


def test_lsh_same_seed_same_bits_other_seed_other_bits():
    X = np.random.default_rng(1).standard_normal((50, 20))
    a = LSH(16, random_state=7).fit_transform(X)
    b = LSH(16, random_state=7).fit_transform(X)
    c = LSH(16, random_state=8).fit_transform(X)
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_lsh_collision_rate_follows_the_angle():
    # P(bit differs) = angle / pi for random Gaussian hyperplanes.
    theta = np.pi / 3
    X = np.array([[1.0, 0.0], [np.cos(theta), np.sin(theta)]])
    bits = LSH(n_bits=64, random_state=0).fit(X).transform(X)
    disagree = np.mean(bits[0] != bits[1])
    assert abs(disagree - 1 / 3) < 0.15  # 64 bits: std ~ 0.06


def test_lsh_errors():
    with pytest.raises(ValueError, match="between 1 and 64, got 80"):
        LSH(n_bits=80).fit(np.ones((3, 2)))
    lsh = LSH(4).fit(np.ones((3, 2)))
    with pytest.raises(ValueError, match="features"):
        lsh.transform(np.ones((3, 5)))
