"""Tests for the max-min fair bandwidth-sharing kernel ``twin.kernels.maxmin``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twin.kernels.maxmin import (
    _maxmin_kernel,
    _progressive_filling,
    _radix_sort,
    maxmin_rates,
    maxmin_rates_reference,
)

INF = np.inf
SOLVERS = [maxmin_rates, maxmin_rates_reference]


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def csr(routes: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Routes as lists of link ids -> (route_ptr, route_links) int64 arrays."""
    ptr = np.zeros(len(routes) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(r) for r in routes])
    links = np.array([ln for r in routes for ln in r], dtype=np.int64)
    return ptr, links


def solve(solver, routes, capacity, rate_cap=None):
    ptr, links = csr(routes)
    cap = None if rate_cap is None else np.asarray(rate_cap, dtype=np.float64)
    return solver(ptr, links, np.asarray(capacity, dtype=np.float64), cap)


def interpreted_kernel(ptr, links, cap, rcap, rates):
    """The kernel body run by the Python interpreter (int64 scratch arrays)."""
    n_flows = len(ptr) - 1
    scratch = np.empty(len(links), np.int64), np.empty(n_flows, np.int64)
    return _progressive_filling.py_func(ptr, links, cap, rcap, rates, *scratch)


def link_loads(routes, rates, n_links):
    """Sum of flow rates per link, one term per occurrence of the link in a route."""
    load = np.zeros(n_links)
    for f, route in enumerate(routes):
        for ln in route:
            load[ln] += rates[f]
    return load


def assert_feasible(routes, capacity, rate_cap, rates):
    capacity = np.asarray(capacity, dtype=np.float64)
    assert np.all(rates >= 0.0)
    if rate_cap is not None:
        assert np.all(rates <= np.asarray(rate_cap) * (1 + 1e-12))
    load = link_loads(routes, rates, len(capacity))
    assert np.all(load <= capacity * (1 + 1e-9)), (load, capacity)


def assert_maxmin_optimal(routes, capacity, rate_cap, rates):
    """Every flow below its cap has a bottleneck: a saturated link where it is largest."""
    capacity = np.asarray(capacity, dtype=np.float64)
    caps = np.full(len(routes), INF) if rate_cap is None else np.asarray(rate_cap)
    load = link_loads(routes, rates, len(capacity))
    saturated = load >= capacity * (1 - 1e-9)
    for f, route in enumerate(routes):
        if rates[f] >= caps[f] * (1 - 1e-9):
            continue
        assert route, "a flow with an empty route must sit at its cap"
        has_bottleneck = False
        for ln in route:
            if not saturated[ln]:
                continue
            top = max(rates[g] for g, r in enumerate(routes) if ln in r)
            if rates[f] >= top * (1 - 1e-9):
                has_bottleneck = True
                break
        assert has_bottleneck, f"flow {f} (rate {rates[f]}) has no bottleneck link"


# --------------------------------------------------------------------------------------
# Hand-computed cases
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("solver", SOLVERS)
def test_single_flow_gets_capacity(solver):
    np.testing.assert_allclose(solve(solver, [[0]], [7.5]), [7.5], rtol=1e-15)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("n", [1, 2, 3, 7, 100])
def test_n_equal_flows_share_one_link(solver, n):
    np.testing.assert_allclose(solve(solver, [[0]] * n, [10.0]), np.full(n, 10.0 / n), rtol=1e-15)


@pytest.mark.parametrize("solver", SOLVERS)
def test_single_flow_limited_by_tightest_link(solver):
    np.testing.assert_allclose(solve(solver, [[0, 1, 2]], [5.0, 2.0, 9.0]), [2.0], rtol=1e-15)


@pytest.mark.parametrize("solver", SOLVERS)
def test_three_flows_two_links_symmetric(solver):
    # A crosses both links, B only link 0, C only link 1.
    rates = solve(solver, [[0, 1], [0], [1]], [1.0, 1.0])
    np.testing.assert_allclose(rates, [0.5, 0.5, 0.5], rtol=1e-15)


@pytest.mark.parametrize("solver", SOLVERS)
def test_three_flows_two_links_asymmetric(solver):
    # Link 1 (cap 4) is the bottleneck of A and C at 2; B takes the rest of link 0: 10 - 2.
    rates = solve(solver, [[0, 1], [0], [1]], [10.0, 4.0])
    np.testing.assert_allclose(rates, [2.0, 8.0, 2.0], rtol=1e-15)


@pytest.mark.parametrize("solver", SOLVERS)
def test_rate_capped_flow_leaves_leftover_to_others(solver):
    # Three flows on a 9-wide link, one capped at 1: the other two split 8.
    rates = solve(solver, [[0], [0], [0]], [9.0], [1.0, INF, INF])
    np.testing.assert_allclose(rates, [1.0, 4.0, 4.0], rtol=1e-15)


@pytest.mark.parametrize("solver", SOLVERS)
def test_cap_above_fair_share_is_not_binding(solver):
    rates = solve(solver, [[0], [0]], [10.0], [6.0, INF])
    np.testing.assert_allclose(rates, [5.0, 5.0], rtol=1e-15)


@pytest.mark.parametrize("solver", SOLVERS)
def test_zero_cap_flow(solver):
    rates = solve(solver, [[0], [0]], [3.0], [0.0, INF])
    np.testing.assert_allclose(rates, [0.0, 3.0], rtol=1e-15)


@pytest.mark.parametrize("solver", SOLVERS)
def test_capped_flow_in_multi_link_network(solver):
    # B is capped at 0.2 so A gets more of link 0, but link 1 still splits A and C evenly.
    rates = solve(solver, [[0, 1], [0], [1]], [1.0, 1.0], [INF, 0.2, INF])
    np.testing.assert_allclose(rates, [0.5, 0.2, 0.5], rtol=1e-15)


@pytest.mark.parametrize("solver", SOLVERS)
def test_empty_route_gets_its_cap_or_inf(solver):
    rates = solve(solver, [[], [0], []], [4.0], [INF, INF, 3.0])
    np.testing.assert_array_equal(rates, [INF, 4.0, 3.0])
    rates = solve(solver, [[], [0]], [4.0])
    np.testing.assert_array_equal(rates, [INF, 4.0])


@pytest.mark.parametrize("solver", SOLVERS)
def test_no_flows(solver):
    rates = solver(np.zeros(1, np.int64), np.zeros(0, np.int64), np.ones(3))
    assert rates.shape == (0,)
    assert rates.dtype == np.float64


@pytest.mark.parametrize("solver", SOLVERS)
def test_duplicate_link_in_route_counts_twice(solver):
    # A crosses link 0 twice: it uses 2·rate there. Max-min: A = B = 10 / 3.
    rates = solve(solver, [[0, 0], [0]], [10.0])
    np.testing.assert_allclose(rates, [10 / 3, 10 / 3], rtol=1e-15)
    # Alone, a flow crossing a link twice gets half of it.
    np.testing.assert_allclose(solve(solver, [[0, 1, 0]], [10.0, 10.0]), [5.0], rtol=1e-15)


@pytest.mark.parametrize("solver", SOLVERS)
def test_cascade_of_bottlenecks(solver):
    # Parking-lot chain: link 0 (cap 1) shared by 4 flows, leftovers cascade downstream.
    routes = [[0, 1, 2], [0], [0, 1], [0, 2], [1], [2]]
    capacity = [1.0, 2.0, 3.0]
    rates = solve(solver, routes, capacity)
    # Link 0: 4 flows at 0.25. Link 1: 2 - 0.5 = 1.5 left for flow 4. Link 2: 3 - 0.5 = 2.5.
    np.testing.assert_allclose(rates, [0.25, 0.25, 0.25, 0.25, 1.5, 2.5], rtol=1e-14)


def test_kernel_returns_number_of_rounds():
    ptr, links = csr([[0, 1], [0], [1]])
    rates = np.empty(3)
    rounds = _maxmin_kernel(ptr, links, np.array([10.0, 4.0]), np.full(3, INF), rates)
    assert rounds == 2


# --------------------------------------------------------------------------------------
# Property tests on random topologies
# --------------------------------------------------------------------------------------


@st.composite
def networks(draw):
    """Random (routes, capacity, rate_cap) with small sizes and frequent ties."""
    n_links = draw(st.integers(1, 8))
    n_flows = draw(st.integers(0, 25))
    link = st.integers(0, n_links - 1)
    routes = draw(st.lists(st.lists(link, max_size=5), min_size=n_flows, max_size=n_flows))
    value = st.one_of(
        st.sampled_from([1.0, 2.0, 3.0, 4.0, 10.0]),  # integers: exact ties between shares
        st.floats(1e-3, 1e3, allow_nan=False, allow_infinity=False),
    )
    capacity = draw(st.lists(value, min_size=n_links, max_size=n_links))
    rate_cap = draw(
        st.one_of(
            st.none(),
            st.lists(
                st.one_of(st.just(INF), st.just(0.0), value),
                min_size=n_flows,
                max_size=n_flows,
            ),
        )
    )
    return routes, capacity, rate_cap


@settings(max_examples=200, deadline=None)
@given(networks())
def test_property_feasible_optimal_and_matches_reference(net):
    routes, capacity, rate_cap = net
    rates = solve(maxmin_rates, routes, capacity, rate_cap)
    ref = solve(maxmin_rates_reference, routes, capacity, rate_cap)

    assert rates.shape == (len(routes),)
    assert rates.dtype == np.float64
    np.testing.assert_allclose(rates, ref, rtol=1e-12, atol=0.0)
    assert_feasible(routes, capacity, rate_cap, rates)
    assert_maxmin_optimal(routes, capacity, rate_cap, rates)


@settings(max_examples=50, deadline=None)
@given(networks())
def test_property_compiled_kernel_equals_pure_python_kernel(net):
    routes, capacity, rate_cap = net
    ptr, links = csr(routes)
    cap = np.asarray(capacity, dtype=np.float64)
    rcap = np.full(len(routes), INF) if rate_cap is None else np.asarray(rate_cap, np.float64)
    compiled, interpreted = np.empty(len(routes)), np.empty(len(routes))
    n1 = _maxmin_kernel(ptr, links, cap, rcap, compiled)
    n2 = interpreted_kernel(ptr, links, cap, rcap, interpreted)
    assert n1 == n2
    np.testing.assert_array_equal(compiled, interpreted)


def test_pure_python_kernel_body_on_hand_case():
    ptr, links = csr([[0, 1], [0], [1], [], [0]])
    cap = np.array([10.0, 4.0])
    rcap = np.array([INF, INF, INF, 2.5, 1.0])
    compiled, interpreted = np.empty(5), np.empty(5)
    _maxmin_kernel(ptr, links, cap, rcap, compiled)
    interpreted_kernel(ptr, links, cap, rcap, interpreted)
    np.testing.assert_array_equal(compiled, interpreted)
    np.testing.assert_allclose(compiled, [2.0, 7.0, 2.0, 2.5, 1.0], rtol=1e-15)


def test_large_random_network_matches_reference():
    rng = np.random.default_rng(12345)
    n_flows, n_links = 2000, 60
    lengths = rng.integers(0, 7, n_flows)
    ptr = np.zeros(n_flows + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(lengths)
    links = rng.integers(0, n_links, ptr[-1]).astype(np.int64)
    cap = rng.uniform(1.0, 100.0, n_links)
    rcap = np.where(rng.random(n_flows) < 0.3, rng.uniform(0.0, 2.0, n_flows), INF)
    rates = maxmin_rates(ptr, links, cap, rcap)
    np.testing.assert_allclose(rates, maxmin_rates_reference(ptr, links, cap, rcap), rtol=1e-12)
    routes = [links[ptr[f] : ptr[f + 1]].tolist() for f in range(n_flows)]
    assert_feasible(routes, cap, rcap, rates)


def random_csr(rng, n_flows, n_links, max_len=6):
    lengths = rng.integers(0, max_len + 1, n_flows)
    ptr = np.zeros(n_flows + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(lengths)
    return ptr, rng.integers(0, n_links, ptr[-1]).astype(np.int64)


def assert_same_as_reference(ptr, links, cap, rcap):
    """Compiled = reference exactly (same arithmetic); compiled = interpreted incl. rounds."""
    rates = maxmin_rates(ptr, links, cap, rcap)
    np.testing.assert_array_equal(rates, maxmin_rates_reference(ptr, links, cap, rcap))
    compiled, interpreted = np.empty(len(ptr) - 1), np.empty(len(ptr) - 1)
    full_cap = np.full(len(ptr) - 1, INF) if rcap is None else rcap
    assert _maxmin_kernel(ptr, links, cap, full_cap, compiled) == interpreted_kernel(
        ptr, links, cap, full_cap, interpreted
    )
    np.testing.assert_array_equal(compiled, interpreted)
    np.testing.assert_array_equal(compiled, rates)
    return rates


@pytest.mark.parametrize("seed", range(4))
def test_caps_across_many_buckets_match_reference(seed):
    # Caps over 600 orders of magnitude and many per bucket: the lazy bucket sort and its
    # radix path (> 32 unfrozen flows in a bucket) must give the reference's order.
    rng = np.random.default_rng(seed)
    n_flows, n_links = 3000, 40
    ptr, links = random_csr(rng, n_flows, n_links)
    cap = rng.uniform(1.0, 1e3, n_links)
    rcap = np.where(
        rng.random(n_flows) < 0.5, 10.0 ** rng.uniform(-300, 3, n_flows), rng.uniform(0, 5, n_flows)
    )
    rcap[rng.random(n_flows) < 0.2] = INF
    rcap[rng.random(n_flows) < 0.05] = 0.0
    assert_same_as_reference(ptr, links, cap, rcap)


def test_caps_at_bucket_boundaries_freeze_in_the_same_round():
    # Caps straddling a bucket boundary (2.0 and its neighbours, 2 ** k) and within the
    # saturation tolerance of each other must freeze together, as in the reference.
    below, above = np.nextafter(2.0, 0.0), np.nextafter(2.0, 4.0)
    rcap = np.array([below, 2.0, above, 2.0 * (1 + 1e-13), 2.0 * (1 + 1e-11), 4.0, 1.0, INF])
    routes = [[0]] * len(rcap)
    ptr, links = csr(routes)
    rates = assert_same_as_reference(ptr, links, np.array([100.0]), rcap)
    # The four caps within tolerance of the level freeze at the level (the smallest cap).
    np.testing.assert_array_equal(rates[:4], [below] * 4)
    np.testing.assert_array_equal(rates[4:7], rcap[4:7])
    assert rates[7] == pytest.approx(100.0 - 4 * below - rcap[4:7].sum(), rel=1e-12)
    rounds = _maxmin_kernel(ptr, links, np.array([100.0]), rcap, np.empty(len(rcap)))
    assert rounds == 5  # 1.0 | the four caps within tolerance of 2 | 2(1+1e-11) | 4 | link


def test_negative_zero_cap_is_zero():
    ptr, links = csr([[0], [0], [0]])
    rates = assert_same_as_reference(ptr, links, np.array([3.0]), np.array([-0.0, 0.0, INF]))
    np.testing.assert_array_equal(rates, [0.0, 0.0, 3.0])


def test_many_equal_caps():
    rng = np.random.default_rng(5)
    ptr, links = random_csr(rng, 5000, 30)
    rcap = np.full(5000, 0.37)
    rcap[::7] = INF
    assert_same_as_reference(ptr, links, rng.uniform(10.0, 100.0, 30), rcap)


def test_int32_and_int64_scratch_agree():
    rng = np.random.default_rng(6)
    ptr, links = random_csr(rng, 2000, 50)
    cap = rng.uniform(1.0, 50.0, 50)
    rcap = np.where(rng.random(2000) < 0.3, rng.uniform(0.0, 2.0, 2000), INF)
    narrow, wide = np.empty(2000), np.empty(2000)
    n32 = _maxmin_kernel(ptr, links, cap, rcap, narrow)  # int32 flow ids
    scratch = np.empty(len(links), np.int64), np.empty(2000, np.int64)
    n64 = _progressive_filling(ptr, links, cap, rcap, wide, *scratch)
    assert n32 == n64
    np.testing.assert_array_equal(narrow, wide)


def test_strided_inputs_are_accepted():
    rng = np.random.default_rng(7)
    ptr, links = random_csr(rng, 300, 20)
    cap = rng.uniform(1.0, 50.0, 20)
    rcap = rng.uniform(0.1, 5.0, 300)
    strided = np.repeat(links, 2)[::2]
    assert not strided.flags.c_contiguous
    np.testing.assert_array_equal(
        maxmin_rates(ptr, strided, cap, rcap), maxmin_rates(ptr, links, cap, rcap)
    )


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from([0.0, 1.0, 2.0, 3.0, 1e-300, 1e300]),
            st.floats(0.0, 1e308, allow_nan=False, allow_infinity=False),
        ),
        max_size=300,
    )
)
def test_property_radix_sort_is_a_stable_sort(values):
    keys = np.array(values, dtype=np.float64).view(np.uint64)
    items = np.arange(len(values), dtype=np.int32)
    expected = np.argsort(keys, kind="stable")
    _radix_sort(keys, items)
    np.testing.assert_array_equal(items, expected)
    assert np.all(keys[:-1] <= keys[1:])


# --------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------


def _good():
    return (
        np.array([0, 2, 3], dtype=np.int64),
        np.array([0, 1, 1], dtype=np.int64),
        np.array([1.0, 2.0]),
        np.array([INF, 1.0]),
    )


def _with(index, value):
    args = list(_good())
    args[index] = value
    return args


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize(
    ("args", "match"),
    [
        (_with(0, np.array([0, 2, 3], dtype=np.int32)), "route_ptr must have dtype int64"),
        (_with(0, [0, 2, 3]), "route_ptr must be a numpy array"),
        (_with(0, np.array([[0, 2, 3]], dtype=np.int64)), "route_ptr must be 1-D"),
        (_with(0, np.zeros(0, dtype=np.int64)), "n_flows \\+ 1"),
        (_with(0, np.array([1, 2, 3], dtype=np.int64)), "route_ptr\\[0\\] must be 0"),
        (_with(0, np.array([0, 3, 2], dtype=np.int64)), "non-decreasing"),
        (_with(0, np.array([0, 1, 2], dtype=np.int64)), "must equal len\\(route_links\\)"),
        (_with(1, np.array([0.0, 1.0, 1.0])), "route_links must have dtype int64"),
        (_with(1, np.array([0, 2, 1], dtype=np.int64)), "link ids in \\[0, 2\\)"),
        (_with(1, np.array([0, -1, 1], dtype=np.int64)), "link ids in \\[0, 2\\)"),
        (_with(2, np.array([1, 2], dtype=np.int64)), "capacity must have dtype float64"),
        (_with(2, np.array([1.0, 0.0])), "capacity must be finite and > 0"),
        (_with(2, np.array([1.0, -3.0])), "capacity must be finite and > 0"),
        (_with(2, np.array([1.0, INF])), "capacity must be finite and > 0"),
        (_with(2, np.array([1.0, np.nan])), "capacity must be finite and > 0"),
        (_with(3, np.array([1, 1], dtype=np.int64)), "rate_cap must have dtype float64"),
        (_with(3, np.array([1.0, 1.0, 1.0])), "one entry per flow"),
        (_with(3, np.array([1.0, -1.0])), "rate_cap must be >= 0"),
        (_with(3, np.array([1.0, np.nan])), "rate_cap must be >= 0"),
    ],
)
def test_invalid_inputs_raise(solver, args, match):
    with pytest.raises(ValueError, match=match):
        solver(*args)


def test_valid_inputs_accepted():
    rates = maxmin_rates(*_good())
    np.testing.assert_allclose(rates, [1.0, 1.0], rtol=1e-15)
