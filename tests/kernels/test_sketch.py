"""The latency sketch kernel against its reference, its layout against the readers', and the
quantile of merged sketches against exact order statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from twin.kernels import sketch as kernel

from twin.trace import sketches


def awkward_values(rng: np.random.Generator, n: int) -> np.ndarray:
    """Lognormal latencies from ~10 µs to ~1000 s, with zeros, negatives, NaN, ±inf, values
    below 1 µs and above 1e5 s mixed in."""
    values = rng.lognormal(np.log(0.3), 2.5, n)
    specials = np.array([0.0, -1.0, np.nan, np.inf, -np.inf, 1e-9, 1e-6, 1e5, 3e7])
    values[rng.integers(0, n, len(specials))] = specials
    return values


def dense(bins: np.ndarray, counts: np.ndarray) -> np.ndarray:
    return sketches.merge([bins], [counts])


def test_the_kernel_and_the_readers_share_one_layout() -> None:
    for name in ("ALPHA", "GAMMA", "INDEX_MIN", "INDEX_MAX", "BUCKETS"):
        assert getattr(kernel, name) == getattr(sketches, name), name
    assert (kernel.INDEX_MIN, kernel.INDEX_MAX) == (-690, 576)  # as the schema says
    assert math.isclose(kernel.GAMMA, 1.01 / 0.99)


@pytest.mark.parametrize("n", [0, 1, 7, 5000])
def test_kernel_equals_reference(n: int) -> None:
    values = awkward_values(np.random.default_rng(n), max(n, 10))[:n]
    bins, counts = kernel.sketch(values)
    ref_bins, ref_counts = kernel.sketch_ref(values)
    assert bins.dtype == np.int16 and counts.dtype == np.int32
    np.testing.assert_array_equal(bins, ref_bins)
    np.testing.assert_array_equal(counts, ref_counts)
    assert int(counts.sum()) == int(np.isfinite(values).sum())


def test_each_value_lands_in_its_bucket_and_the_ends_clamp() -> None:
    values = np.geomspace(1.01e-6, 0.99e5, 20_000)
    for x in values:
        (i,), _ = kernel.sketch(np.array([x]))
        assert kernel.GAMMA ** (int(i) - 1) < x <= kernel.GAMMA ** int(i) * (1 + 1e-12)
        representative = 2 * kernel.GAMMA ** int(i) / (kernel.GAMMA + 1)
        assert abs(representative - x) <= kernel.ALPHA * x * (1 + 1e-9)
    low, counts = kernel.sketch(np.array([0.0, -3.0, 1e-12, 1e-6]))
    assert low.tolist() == [kernel.INDEX_MIN] and counts.tolist() == [4]
    high, counts = kernel.sketch(np.array([1e5, 1e9, 1e300]))
    assert high.tolist() == [kernel.INDEX_MAX] and counts.tolist() == [3]


def test_merging_sketches_is_sketching_the_union() -> None:
    rng = np.random.default_rng(3)
    parts = [awkward_values(rng, int(n)) for n in rng.integers(10, 400, 12)]
    sketched = [kernel.sketch(part) for part in parts]
    merged = sketches.merge([b for b, _ in sketched], [c for _, c in sketched])
    np.testing.assert_array_equal(merged, dense(*kernel.sketch(np.concatenate(parts))))


@pytest.mark.parametrize("seed", range(4))
def test_quantiles_are_within_alpha_of_the_exact_order_statistic(seed: int) -> None:
    """DDSketch's guarantee: the estimate of quantile q is within α of the sorted value of
    rank floor(q (n − 1)) (numpy's 'lower' method), for every q, of values in range."""
    rng = np.random.default_rng(seed)
    values = rng.lognormal(np.log(0.05), 1.5, int(rng.integers(1, 3000)))
    qs = np.linspace(0, 1, 101)
    got = np.array(sketches.quantiles_s(dense(*kernel.sketch(values)), qs))
    exact = np.quantile(values, qs, method="lower")
    assert np.all(np.abs(got - exact) <= kernel.ALPHA * exact * (1 + 1e-9))
    # not merely loose: most estimates are not the exact values
    assert np.mean(got == exact) < 0.5


def test_an_empty_sketch_has_no_quantiles() -> None:
    empty = dense(*kernel.sketch(np.array([np.nan, np.inf])))
    assert empty.sum() == 0
    assert sketches.quantiles_s(empty, [0.5, 0.99]) == [None, None]


def test_a_bucket_off_the_layout_is_refused() -> None:
    from twin.trace.errors import RunError

    with pytest.raises(RunError, match="outside"):
        sketches.merge([np.array([kernel.INDEX_MAX + 1])], [np.array([1])])
    import pyarrow as pa

    def column(rows: list, kind: pa.DataType) -> pa.Array:
        return pa.array(rows, pa.list_(kind))

    good = column([[1, 2], None, [5]], pa.int16())
    index, counts, owner = sketches.flat_sketches(good, column([[3, 1], None, [2]], pa.int32()))
    assert (index + kernel.INDEX_MIN).tolist() == [1, 2, 5] and owner.tolist() == [0, 0, 2]
    assert counts.tolist() == [3, 1, 2]
    for counts_rows, why in (
        ([[3], None, [2, 1]], "differ in number"),  # same total, wrong rows
        ([[3, 0], None, [2]], "below 1"),
    ):
        with pytest.raises(RunError, match=why):
            sketches.flat_sketches(good, column(counts_rows, pa.int32()))


def test_counting_by_group_equals_its_reference_and_one_sketch_per_group() -> None:
    rng = np.random.default_rng(11)
    values = awkward_values(rng, 3000)
    groups = rng.integers(0, 5, len(values))
    dense = np.zeros((5, kernel.BUCKETS), dtype=np.int64)
    ref = dense.copy()
    kernel.count_by_group(values, groups, dense)
    kernel.count_by_group(values[:100], groups[:100], dense)  # counts add up
    kernel.count_by_group_ref(values, groups, ref)
    kernel.count_by_group_ref(values[:100], groups[:100], ref)
    np.testing.assert_array_equal(dense, ref)
    for g in range(5):
        once = np.concatenate([values[groups == g], values[:100][groups[:100] == g]])
        bins, counts = kernel.sparse(dense[g])
        np.testing.assert_array_equal(bins, kernel.sketch(once)[0])
        np.testing.assert_array_equal(counts, kernel.sketch(once)[1])
    assert kernel.sparse(np.zeros(kernel.BUCKETS, dtype=np.int64)) is None
    with pytest.raises(ValueError, match="groups"):
        kernel.count_by_group(values, groups[:-1], dense)
