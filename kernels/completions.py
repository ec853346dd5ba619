"""What a site's completed requests come to in a window, compiled.

``single`` services: the FCFS kernel gives each request of a window its wait; a served
request completes at arrival + wait + service, possibly after the window's end, so
completions are carried (pending) until the window they fall in (:func:`complete`).
``llm`` services: the replicas report completions; their regions, latencies with the round
trip and SLO misses follow (:func:`llm_served`). Called once per service × site window: one
compiled call replaces a dozen numpy gathers, concatenations and masks.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from twin.kernels._jit import njit

# ============================================================================================
# Multi-server FCFS
# ============================================================================================


class Pending(NamedTuple):
    """Served requests not completed yet, in the order they were served."""

    done_s: np.ndarray
    """Completion times [s], float64."""
    latency_s: np.ndarray
    """Latencies (wait + service + round trip) [s], float64."""
    region: np.ndarray
    """Regions, int64."""


class Completed(NamedTuple):
    """What a window's requests and the pending ones came to by the window's end."""

    pending: Pending
    """Still in service at the end (carried to the next window)."""
    latency_s: np.ndarray
    """Latencies of the requests completed in the window (pending ones first) [s]."""
    regions: np.ndarray
    """Their regions, int64."""
    missed: np.ndarray
    """Whether each latency exceeds the SLO, bool."""
    waits_s: np.ndarray
    """Waits of the window's served requests [s], in arrival order."""
    service_s: np.ndarray
    """Service times of the window's served requests [s], in arrival order."""
    dropped_regions: np.ndarray
    """Regions of the window's requests not served, int64, in arrival order."""


@njit(cache=True)
def _complete_kernel(
    pending_done,
    pending_latency,
    pending_region,
    arrivals,
    wait,
    service,
    served,
    regions,
    rtt,
    end_s,
    slo_s,
    out_done,
    out_latency,
    out_region,
    fin_latency,
    fin_region,
    fin_missed,
    waits,
    services,
    dropped,
    sizes,
):
    """Fill the output arrays; ``sizes`` receives how many of each (pending, completed,
    served, dropped). The arithmetic is numpy's: ``(arrival + wait) + service`` and
    ``(wait + service) + rtt``."""
    p = 0
    f = 0
    for i in range(pending_done.shape[0]):
        if pending_done[i] <= end_s:
            fin_latency[f] = pending_latency[i]
            fin_region[f] = pending_region[i]
            fin_missed[f] = pending_latency[i] > slo_s
            f += 1
        else:
            out_done[p] = pending_done[i]
            out_latency[p] = pending_latency[i]
            out_region[p] = pending_region[i]
            p += 1
    s = 0
    d = 0
    for i in range(arrivals.shape[0]):
        if not served[i]:
            dropped[d] = regions[i]
            d += 1
            continue
        waits[s] = wait[i]
        services[s] = service[i]
        s += 1
        done = arrivals[i] + wait[i] + service[i]
        latency = wait[i] + service[i] + rtt[regions[i]]
        if done <= end_s:
            fin_latency[f] = latency
            fin_region[f] = regions[i]
            fin_missed[f] = latency > slo_s
            f += 1
        else:
            out_done[p] = done
            out_latency[p] = latency
            out_region[p] = regions[i]
            p += 1
    sizes[0] = p
    sizes[1] = f
    sizes[2] = s
    sizes[3] = d


def complete(
    pending: Pending,
    arrivals: np.ndarray,
    wait: np.ndarray,
    service_s: np.ndarray,
    served: np.ndarray,
    regions: np.ndarray,
    rtt_s: np.ndarray,
    end_s: float,
    slo_s: float,
) -> Completed:
    """The requests of ``pending`` and of the window that complete by ``end_s``.

    Parameters
    ----------
    pending : Pending
        Requests carried from earlier windows.
    arrivals, wait, service_s : numpy.ndarray of float64, shape (n,)
        The window's requests: arrival time, wait (NaN if not served), service time [s].
    served : numpy.ndarray of bool, shape (n,)
        Whether each was served (the FCFS kernel's verdict).
    regions : numpy.ndarray of int64, shape (n,)
        Region of each request.
    rtt_s : numpy.ndarray of float64, shape (regions,)
        Round trip from each region to the site [s].
    end_s : float
        The window's end [s].
    slo_s : float
        Latency SLO [s] (inf: none).
    """
    n_pending, n = pending.done_s.shape[0], arrivals.shape[0]
    most = n_pending + n
    out = Pending(np.empty(most), np.empty(most), np.empty(most, dtype=np.int64))
    fin_latency, fin_region = np.empty(most), np.empty(most, dtype=np.int64)
    fin_missed = np.empty(most, dtype=np.bool_)
    waits, services, dropped = np.empty(n), np.empty(n), np.empty(n, dtype=np.int64)
    sizes = np.zeros(4, dtype=np.int64)
    _complete_kernel(
        *pending,
        arrivals,
        wait,
        service_s,
        served,
        regions,
        rtt_s,
        float(end_s),
        float(slo_s),
        *out,
        fin_latency,
        fin_region,
        fin_missed,
        waits,
        services,
        dropped,
        sizes,
    )
    p, f, s, d = sizes.tolist()
    return Completed(
        Pending(out.done_s[:p], out.latency_s[:p], out.region[:p]),
        fin_latency[:f],
        fin_region[:f],
        fin_missed[:f],
        waits[:s],
        services[:s],
        dropped[:d],
    )


def complete_ref(
    pending: Pending,
    arrivals: np.ndarray,
    wait: np.ndarray,
    service_s: np.ndarray,
    served: np.ndarray,
    regions: np.ndarray,
    rtt_s: np.ndarray,
    end_s: float,
    slo_s: float,
) -> Completed:
    """Plain numpy twin of :func:`complete`."""
    done = np.concatenate([pending.done_s, (arrivals + wait + service_s)[served]])
    latency = np.concatenate([pending.latency_s, (wait + service_s + rtt_s[regions])[served]])
    region = np.concatenate([pending.region, regions[served]])
    finished = done <= end_s
    keep = ~finished
    return Completed(
        Pending(done[keep], latency[keep], region[keep]),
        latency[finished],
        region[finished],
        latency[finished] > slo_s,
        wait[served],
        service_s[served],
        regions[~served],
    )


# ============================================================================================
# Continuous-batching replicas
# ============================================================================================


class Served(NamedTuple):
    """The completions of a site's llm replicas in a window, as the requests' regions see them."""

    regions: np.ndarray
    """Region of each request (the low bits of its id), int64."""
    ttft_s: np.ndarray
    """Time to first token, round trip included [s]."""
    latency_s: np.ndarray
    """End-to-end latency, round trip included [s]."""
    missed: np.ndarray
    """Whether the TTFT or the TPOT exceeds its SLO, bool."""


@njit(cache=True)
def _served_kernel(
    ids, ttft, tpot, e2e, rtt, mask, ttft_slo, tpot_slo, regions, out_ttft, out_e2e, missed
):
    for i in range(ids.shape[0]):
        region = ids[i] & mask
        regions[i] = region
        out_ttft[i] = ttft[i] + rtt[region]
        out_e2e[i] = e2e[i] + rtt[region]
        missed[i] = out_ttft[i] > ttft_slo or tpot[i] > tpot_slo  # NaN TPOT never misses


def llm_served(
    ids: np.ndarray,
    ttft_s: np.ndarray,
    tpot_s: np.ndarray,
    e2e_s: np.ndarray,
    rtt_s: np.ndarray,
    region_bits: int,
    ttft_slo_s: float,
    tpot_slo_s: float,
) -> Served:
    """Regions, latencies with the round trip, and SLO misses of completed llm requests.

    Parameters
    ----------
    ids : numpy.ndarray of int64, shape (m,)
        Request ids, the region in their low ``region_bits`` bits.
    ttft_s, tpot_s, e2e_s : numpy.ndarray of float64, shape (m,)
        At the replica: time to first token, time per output token (NaN for one token), and
        end-to-end latency [s].
    rtt_s : numpy.ndarray of float64, shape (regions,)
        Round trip from each region to the site [s].
    ttft_slo_s, tpot_slo_s : float
        The SLOs [s] (inf: none).
    """
    m = ids.shape[0]
    out = Served(np.empty(m, dtype=np.int64), np.empty(m), np.empty(m), np.empty(m, dtype=np.bool_))
    mask = (1 << region_bits) - 1
    _served_kernel(
        ids, ttft_s, tpot_s, e2e_s, rtt_s, mask, float(ttft_slo_s), float(tpot_slo_s), *out
    )
    return out


def llm_served_ref(
    ids: np.ndarray,
    ttft_s: np.ndarray,
    tpot_s: np.ndarray,
    e2e_s: np.ndarray,
    rtt_s: np.ndarray,
    region_bits: int,
    ttft_slo_s: float,
    tpot_slo_s: float,
) -> Served:
    """Plain numpy twin of :func:`llm_served`."""
    regions = ids & ((1 << region_bits) - 1)
    ttft = ttft_s + rtt_s[regions]
    return Served(
        regions, ttft, e2e_s + rtt_s[regions], (ttft > ttft_slo_s) | (tpot_s > tpot_slo_s)
    )
