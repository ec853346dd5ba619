"""Tests of the weighted max-min kernel ``twin.kernels.maxmin_weighted`` (RTT-weighted sharing)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twin.kernels.maxmin import maxmin_rates, network_solve
from twin.kernels.maxmin_weighted import (
    weighted_maxmin_rates,
    weighted_maxmin_rates_reference,
    weighted_network_solve,
)

SOLVERS = [weighted_maxmin_rates, weighted_maxmin_rates_reference]


def csr(routes: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    ptr = np.zeros(len(routes) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(r) for r in routes])
    return ptr, np.array([ln for r in routes for ln in r], dtype=np.int64)


@pytest.mark.parametrize("solver", SOLVERS)
def test_two_flows_on_one_link_share_in_inverse_ratio_of_their_weights(solver):
    ptr, links = csr([[0], [0]])
    rates = solver(ptr, links, np.array([100.0]), np.array([0.02, 0.06]))
    assert rates.tolist() == pytest.approx([75.0, 25.0], rel=1e-12)


@pytest.mark.parametrize("solver", SOLVERS)
def test_weights_caps_and_a_second_bottleneck(solver):
    # Link 0 (90) carries flows 0, 1, 2 with weights 1, 2, 2 -> 45, 22.5, 22.5; flow 1 is
    # capped at 10, so flows 0 and 2 split the other 80 as 2:1 -> 53.33, 26.67; flow 2 also
    # crosses link 1 (20), which holds it at 20, and flow 0 takes the rest: 60.
    ptr, links = csr([[0], [0], [0, 1]])
    rates = solver(
        ptr,
        links,
        np.array([90.0, 20.0]),
        np.array([1.0, 2.0, 2.0]),
        np.array([np.inf, 10, np.inf]),
    )
    assert rates.tolist() == pytest.approx([60.0, 10.0, 20.0], rel=1e-12)


def test_bad_weights_are_refused():
    ptr, links = csr([[0]])
    with pytest.raises(ValueError, match="weight must be finite and > 0"):
        weighted_maxmin_rates(ptr, links, np.array([1.0]), np.array([0.0]))
    with pytest.raises(ValueError, match="one entry per flow"):
        weighted_maxmin_rates(ptr, links, np.array([1.0]), np.array([1.0, 1.0]))


problems = st.integers(1, 25).flatmap(
    lambda n_flows: st.tuples(
        st.integers(1, 6),
        st.lists(st.lists(st.integers(0, 5), max_size=4), min_size=n_flows, max_size=n_flows),
        st.lists(st.floats(0.01, 10.0), min_size=n_flows, max_size=n_flows),
        st.lists(
            st.one_of(st.just(np.inf), st.floats(0.1, 20.0)), min_size=n_flows, max_size=n_flows
        ),
        st.lists(st.floats(1.0, 100.0), min_size=6, max_size=6),
    )
)


@settings(max_examples=150, deadline=None)
@given(problems)
def test_kernel_matches_reference_and_unit_weights_match_maxmin(problem):
    n_links, routes, weights, caps, capacity = problem
    routes = [[ln % n_links for ln in route] for route in routes]
    ptr, links = csr(routes)
    capacity = np.array(capacity[:n_links])
    weight, cap = np.array(weights), np.array(caps)
    rates = weighted_maxmin_rates(ptr, links, capacity, weight, cap)
    assert rates == pytest.approx(
        weighted_maxmin_rates_reference(ptr, links, capacity, weight, cap), rel=1e-9
    )
    # feasible: no link over capacity, no flow over its cap
    used = np.bincount(links, weights=rates.repeat(np.diff(ptr)), minlength=n_links)
    assert np.all(used <= capacity * (1 + 1e-9))
    assert np.all(rates <= cap * (1 + 1e-12))
    ones = np.ones(len(routes))
    assert weighted_maxmin_rates(ptr, links, capacity, ones, cap) == pytest.approx(
        maxmin_rates(ptr, links, capacity, cap), rel=1e-9
    )


def test_weighted_network_solve_with_unit_weights_is_network_solve():
    ptr, links = csr([[0, 1], [1], [0]])
    capacity, caps = np.array([10.0, 4.0]), np.array([np.inf, np.inf, 1.0])
    remaining = np.array([8e9, 4e9, 2e9])
    out_a = [np.zeros(3), np.zeros(3), np.zeros(2)]
    out_b = [np.zeros(3), np.zeros(3), np.zeros(2)]
    soonest_a = network_solve(3, ptr, links, capacity, caps, remaining, *out_a)
    soonest_b = weighted_network_solve(3, ptr, links, capacity, caps, np.ones(3), remaining, *out_b)
    assert soonest_a == pytest.approx(soonest_b, rel=1e-12)
    for a, b in zip(out_a, out_b, strict=True):
        assert a == pytest.approx(b, rel=1e-12)
