"""xgrad.token_embed_forward from Python: the Flax page's function, bit for bit."""
import json
import pathlib

import numpy as np
import pytest

import xgrad

VECTORS = json.loads(
    (pathlib.Path(__file__).resolve().parents[1] / "vectors" / "token_embed_forward.json").read_text())


def bits(values):
    return np.asarray(values, dtype=np.float32).view(np.uint32)


def test_the_flax_pages_worked_example_prints_the_readmes_numbers():
    out = xgrad.token_embed_forward(0, [0, 2, 1], 5, 3)
    expected = np.array([[0.0439608917, -0.932851315, -0.973281145],
                         [0.0971962363, 0.498613775, 0.495192766],
                         [0.411471248, 0.663347542, 0.494691551]], dtype=np.float32)
    np.testing.assert_array_equal(bits(out), bits(expected.ravel()))


def test_the_output_is_a_flat_float32_array_of_t_times_d():
    out = xgrad.token_embed_forward(0, np.array([[0.0, 1.0], [2.0, 3.0]]), 5, 3)
    assert out.dtype == np.float32 and out.shape == (12,)


@pytest.mark.parametrize("case", VECTORS["cases"],
                         ids=[f"{c['prng']}-{c['ids_policy']}-seed{c['seed']}-V{c['vocab_size']}"
                              f"-D{c['d_model']}-T{len(c['token_ids'])}" for c in VECTORS["cases"]])
def test_every_known_answer_case_matches_bit_for_bit(case):
    out = xgrad.token_embed_forward(case["seed"], case["token_ids"], case["vocab_size"], case["d_model"],
                                    ids_policy=case["ids_policy"], prng=case["prng"])
    expected = np.array([int(h, 16) for h in case["expected_f32_hex"]], dtype=np.uint32)
    np.testing.assert_array_equal(out.view(np.uint32), expected)


@pytest.mark.parametrize("prng", ["partitionable", "legacy"])
def test_drawing_only_the_requested_rows_equals_indexing_the_whole_table(prng):
    rng = np.random.default_rng(5)
    for seed, vocab, dim in [(0, 1, 1), (3, 97, 13), (-7, 300, 8), (2**31 + 5, 64, 33)]:
        ids = rng.integers(0, vocab, size=17)
        table = xgrad.flax.embed_table(seed, vocab, dim, prng=prng)
        out = xgrad.token_embed_forward(seed, ids.astype(np.float64), vocab, dim, prng=prng)
        np.testing.assert_array_equal(out.view(np.uint32), table[ids].ravel().view(np.uint32))


def test_a_large_vocabulary_costs_only_the_requested_rows():
    # A whole 50,000 x 4,096 table would be 800 MB; three rows are 48 KB.
    out = xgrad.token_embed_forward(0, [49999, 0, 12345], 50_000, 4_096)
    assert out.shape == (3 * 4096,) and np.isfinite(out).all()


def test_sizes_and_seed_are_cast_with_int_and_ids_come_from_any_numeric_array_like():
    class Ids:
        def __array__(self, dtype=None):
            return np.array([0, 2, 1], dtype=np.int16)

    expected = xgrad.token_embed_forward(0, [0, 2, 1], 5, 3)
    for ids in ([0.0, 2.0, 1.0], (0, 2, 1), np.array([0, 2, 1], dtype=np.uint8),
                np.array([0, 2, 1], dtype=np.float32), Ids()):
        np.testing.assert_array_equal(xgrad.token_embed_forward(0.0, ids, 5.0, np.int64(3)), expected)


def test_a_list_of_ints_reads_as_the_same_ids_as_its_numpy_array():
    ids = [k * 7919 % 50000 for k in range(512)]  # read item by item, not through NumPy
    np.testing.assert_array_equal(xgrad.token_embed_forward(0, ids, 50000, 4),
                                  xgrad.token_embed_forward(0, np.array(ids, dtype=np.int64), 50000, 4))


def test_ints_too_wide_for_64_bits_in_a_list_are_still_judged_by_numpy():
    with pytest.raises(TypeError, match="token ids must be numbers, got an array of dtype object"):
        xgrad.token_embed_forward(0, [0, 2**70], 5, 3)
    with pytest.raises(xgrad.InvalidTokenId, match="token id 9223372036854775808 at position 1 does not fit"):
        xgrad.token_embed_forward(0, [0, 2**63], 5, 3)


def test_an_empty_id_list_gives_an_empty_output():
    assert xgrad.token_embed_forward(0, [], 5, 3).shape == (0,)


def test_an_out_of_range_id_is_an_index_error_naming_position_value_and_v():
    with pytest.raises(IndexError, match=r"token id 7 at position 1 is out of range \[0, 5\)"):
        xgrad.token_embed_forward(0, [0, 7], 5, 3)


def test_a_negative_id_is_an_index_error_under_the_strict_policy():
    with pytest.raises(xgrad.TokenIdOutOfRange, match=r"token id -1 at position 0"):
        xgrad.token_embed_forward(0, [-1], 5, 3)


@pytest.mark.parametrize("bad, shown", [(2.5, "2.5"), (float("nan"), "nan"), (float("inf"), "inf")])
def test_a_fractional_or_non_finite_id_is_a_value_error(bad, shown):
    with pytest.raises(xgrad.InvalidTokenId, match=f"token id {shown} at position 2") as info:
        xgrad.token_embed_forward(0, [0, 1, bad], 5, 3)
    assert isinstance(info.value, ValueError)


def test_a_zero_vocabulary_is_a_value_error_from_the_library():
    with pytest.raises(xgrad.ShapeError, match="vocab_size and d_model must be positive") as info:
        xgrad.token_embed_forward(0, [0], 0, 3)
    assert isinstance(info.value, ValueError)


def test_non_numeric_ids_are_a_type_error():
    with pytest.raises(TypeError, match="token ids must be numbers"):
        xgrad.token_embed_forward(0, ["0", "1"], 5, 3)


@pytest.mark.parametrize("kwargs, message", [({"ids_policy": "wrap"}, "ids_policy"), ({"prng": "rbg"}, "prng")])
def test_an_unknown_policy_or_layout_is_a_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        xgrad.token_embed_forward(0, [0], 5, 3, **kwargs)


def test_the_flax_policy_wraps_negative_ids_once_and_gives_nan_rows_past_v():
    out = xgrad.token_embed_forward(0, [-1, 7], 5, 3, ids_policy="flax").reshape(2, 3)
    np.testing.assert_array_equal(out[0], xgrad.flax.embed_table(0, 5, 3)[4])
    assert np.isnan(out[1]).all()
