"""Benchmark of the inference queueing kernels (``twin.kernels.queueing``).

Prints, for the multi-server FCFS kernels and the continuous-batching replica:

* requests per second of wall time of the compiled kernels (one call, and windowed calls as
  the SimPy twin makes them);
* the speed ratio against their plain-Python reference twins;
* ``fcfs_multiserver`` against a classic SimPy model of the same queue (one process per
  request on a ``simpy.Resource(capacity=c)``), after checking that both give the same waits;
* ``fcfs_multiserver`` against one memory-bound numpy pass over the same arrays
  (``np.add(arrivals, service, out=buf)``: 16 B read + 8 B written per request, like the
  kernel), as the fraction of the machine's memory-bound limit that the kernel reaches.

JIT compilation is warmed up outside the timed regions; every figure is the median of
several repeats.  Run ``python benchmarks/bench_queueing.py [--quick]`` (full run < 3 min on
two cores, ``--quick`` a few seconds).
"""

from __future__ import annotations

import argparse
import math
import time
from statistics import median

import numpy as np
import simpy
from twin.kernels import queueing as q


def timed(fn, repeats):
    """Median wall time [s] of ``fn()`` over ``repeats`` runs (after one untimed warm-up)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return median(times)


def mmc_stream(n, c, rho, seed):
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1.0 / (rho * c), n))
    service = rng.exponential(1.0, n)
    return arrivals, service


def simpy_waits(arrivals, service, c):
    """Waits of the same FCFS queue in SimPy: a source process and one process per request."""
    n = arrivals.shape[0]
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=c)
    waits = np.empty(n)
    arr, svc = arrivals.tolist(), service.tolist()

    def request(i):
        with servers.request() as req:
            yield req
            waits[i] = env.now - arr[i]
            yield env.timeout(svc[i])

    def source():
        for i in range(n):
            delay = arr[i] - env.now
            if delay > 0.0:
                yield env.timeout(delay)
            env.process(request(i))

    env.process(source())
    env.run()
    return waits


def fmt_rate(x):
    return f"{x / 1e6:10.2f} M req/s" if x >= 1e5 else f"{x / 1e3:10.2f} k req/s"


def bench_fcfs(args):
    c, rho = 4, 0.9
    n, n_ref, n_simpy = args.n_fcfs, args.n_ref, args.n_simpy
    arrivals, service = mmc_stream(n, c, rho, 1)
    out = np.empty(n)
    served = np.empty(n, dtype=bool)
    buf = np.empty(n)
    r = args.repeats
    print(f"== fcfs_multiserver: M/M/{c}, rho = {rho}, n = {n:,} ==")

    t_kernel = timed(
        lambda: q.fcfs_multiserver(arrivals, service, np.zeros(c), out, check=False), r
    )
    t_checked = timed(lambda: q.fcfs_multiserver(arrivals, service, np.zeros(c), out), r)

    win = 1000  # requests per window: about 1-10 s of simulated time of a busy region

    def windowed():
        fa = np.zeros(c)
        for i in range(0, n, win):
            q.fcfs_multiserver(arrivals[i : i + win], service[i : i + win], fa, out[i : i + win])

    t_windowed = timed(windowed, r)
    t_limited = timed(
        lambda: q.fcfs_multiserver_limited(
            arrivals, service, np.zeros(c), 16, 5.0, None, out, served, check=False
        ),
        r,
    )
    t_add = timed(lambda: np.add(arrivals, service, out=buf), r)
    ns = t_kernel / n * 1e9
    print(f"kernel, one call (no input checks) {fmt_rate(n / t_kernel)}  ({ns:.1f} ns/req)")
    print(f"kernel, one call, input checks     {fmt_rate(n / t_checked)}")
    print(f"kernel, windows of {win} requests   {fmt_rate(n / t_windowed)}")
    print(f"limited (max_queue=16, timeout=5s) {fmt_rate(n / t_limited)}")
    print(
        f"memory-bound numpy pass np.add     {fmt_rate(n / t_add)}  -> kernel reaches "
        f"{t_add / t_kernel:.1%} of the memory-bound limit"
    )

    a_ref, s_ref = arrivals[:n_ref], service[:n_ref]
    t_ref = timed(lambda: q.fcfs_multiserver_ref(a_ref, s_ref, np.zeros(c)), max(1, r // 2))
    t_lref = timed(
        lambda: q.fcfs_multiserver_limited_ref(a_ref, s_ref, np.zeros(c), 16, 5.0), max(1, r // 2)
    )
    x_ref, x_lref = n_ref / t_ref, n_ref / t_lref
    ratio_ref, ratio_lref = n / t_kernel / x_ref, n / t_limited / x_lref
    print(f"plain-Python reference (heapq)     {fmt_rate(x_ref)}  -> kernel {ratio_ref:8.0f}x")
    print(f"plain-Python limited reference     {fmt_rate(x_lref)}  -> limited {ratio_lref:7.0f}x")

    a_s, s_s = arrivals[:n_simpy], service[:n_simpy]
    w_simpy = simpy_waits(a_s, s_s, c)
    w_kernel = q.fcfs_multiserver(a_s, s_s, np.zeros(c))
    err = float(np.max(np.abs(w_simpy - w_kernel)))
    assert err < 1e-6, f"SimPy and kernel waits differ by {err}"
    t_simpy = timed(lambda: simpy_waits(a_s, s_s, c), max(1, r // 2))
    x_simpy = n_simpy / t_simpy
    ratio = n / t_kernel / x_simpy
    print(
        f"SimPy Resource model ({n_simpy:,} req)  {fmt_rate(x_simpy)}  -> kernel {ratio:8.0f}x "
        f"(target >= 300x: {'met' if ratio >= 300 else 'NOT met'}; same waits, max |diff| "
        f"{err:.1e} s)"
    )
    print()


def batching_stream(n, rate, seed):
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1.0 / rate, n))
    prompt = rng.integers(100, 2000, n)
    output = rng.integers(10, 500, n)
    return arrivals, prompt, output


def batching_one_call(params, arrivals, prompt, output, replica_cls=q.BatchingReplica):
    rep = replica_cls(*params)
    return rep, rep.step(arrivals, prompt, output, math.inf)


def batching_windowed(params, arrivals, prompt, output, window, max_waiting=-1):
    """The hybrid-model use: one call per ``window`` simulated seconds."""
    rep = q.BatchingReplica(*params, max_waiting=max_waiting)
    ends = np.arange(window, arrivals[-1] + window, window)
    idx = np.searchsorted(arrivals, ends)
    lo = 0
    for hi, u in zip(idx.tolist(), ends.tolist(), strict=True):
        rep.step(arrivals[lo:hi], prompt[lo:hi], output[lo:hi], u)
        lo = hi
    rep.step(arrivals[lo:], prompt[lo:], output[lo:], math.inf)
    return rep


def batching_call_overhead(params, repeats, k_calls=2000):
    """Wall time [s] of one ``step`` call on an idle replica with no arrivals."""
    rep = q.BatchingReplica(*params)
    empty_f, empty_i = np.empty(0), np.empty(0, np.int64)
    clock = [0.0]

    def calls():
        for _ in range(k_calls):
            clock[0] += 1.0
            rep.step(empty_f, empty_i, empty_i, clock[0])

    return timed(calls, repeats) / k_calls


def bench_batching(args):
    # An 8B-class model on one accelerator, roughly: 30k prompt tokens/s, 25 ms decode steps
    # at batch 64 with 2k-token contexts.
    coef = (0.008, 3.3e-5, 1.0e-4, 1.0e-7)  # c0 [s], c_pf [s/tok], c_b [s/req], c_kv [s/tok]
    max_batch, kv_cap = 128, 400_000
    n, n_ref = args.n_batch, args.n_batch_ref
    rate = 6.0  # requests/s: ~2/3 of the saturation rate for these lengths
    window = 5.0  # simulated seconds per SimPy wake-up
    arrivals, prompt, output = batching_stream(n, rate, 2)
    overload = batching_stream(n, 2 * rate, 3)
    r = max(1, args.repeats // 2)
    for mode, budget in (("vllm", 0), ("sarathi", 512)):
        params = (mode, *coef, max_batch, kv_cap, budget)
        t_one = timed(lambda p=params: batching_one_call(p, arrivals, prompt, output), r)
        t_win = timed(lambda p=params: batching_windowed(p, arrivals, prompt, output, window), r)
        t_call = batching_call_overhead(params, r)
        t_lim = timed(lambda p=params: batching_windowed(p, *overload, window, max_waiting=16), r)
        dropped = batching_windowed(params, *overload, window, max_waiting=16).stats[q.STAT_DROPPED]
        ref_stream = (arrivals[:n_ref], prompt[:n_ref], output[:n_ref])
        t_ref = timed(
            lambda p=params, st=ref_stream: batching_one_call(p, *st, q.BatchingReplicaRef), 1
        )
        rep, res = batching_one_call(params, arrivals, prompt, output)
        s = rep.stats
        sim_s = float(res.finish_s.max())
        iters = s[q.STAT_ITERATIONS]
        x_ref = n_ref / t_ref
        print(f"== continuous batching, {mode} (budget {budget}), n = {n:,}, {rate} req/s ==")
        print(
            f"simulated {sim_s:,.0f} s, {iters:,.0f} iterations, busy "
            f"{s[q.STAT_BUSY_S] / (sim_s - arrivals[0]):.1%}, mean batch "
            f"{s[q.STAT_BATCH_SUM] / iters:.1f}, mean TTFT {np.mean(res.ttft):.2f} s, "
            f"mean TPOT {np.nanmean(res.tpot) * 1e3:.1f} ms"
        )
        print(
            f"kernel, one call                   {fmt_rate(n / t_one)}  "
            f"({sim_s / t_one:,.0f} simulated s per wall s, {iters / t_one / 1e6:.2f} M it/s)"
        )
        print(f"kernel, windows of {window:g} s           {fmt_rate(n / t_win)}")
        print(
            f"  2x overload, max_waiting = 16     {fmt_rate(n / t_lim)}  "
            f"({dropped / n:.0%} dropped by the waiting-queue limit)"
        )
        print(f"per-call overhead, empty window    {t_call * 1e6:10.1f} us")
        ratio = n / t_one / x_ref
        print(f"plain-Python reference             {fmt_rate(x_ref)}  -> kernel {ratio:8.0f}x")
        bench_paged(params, arrivals, prompt, output, r)
        bench_profile(mode, budget, arrivals, prompt, output, r)
        print()


def bench_paged(params, arrivals, prompt, output, repeats, kv_cap=60_000):
    """Reserve against paged KV (recompute, swap) on a KV cache small enough to bind."""
    tight = (*params[:6], kv_cap, params[7])
    n = arrivals.shape[0]
    for label, paging in (
        ("reserve", {}),
        ("paged, recompute", {"kv_block_tokens": 16}),
        ("paged, swap", {"kv_block_tokens": 16, "swap_s_per_token": 5e-6}),
    ):

        def run(paging=paging):
            rep = q.BatchingReplica(*tight, **paging)
            rep.step(arrivals, prompt, output, math.inf)
            return rep

        t = timed(run, repeats)
        s = run().stats
        print(
            f"KV {kv_cap:,} tokens, {label:<17}{fmt_rate(n / t)}  (mean batch "
            f"{s[q.STAT_BATCH_SUM] / s[q.STAT_ITERATIONS]:.1f}, "
            f"{s[q.STAT_PREEMPTIONS]:,.0f} preemptions)"
        )


def bench_profile(mode, budget, arrivals, prompt, output, repeats):
    """The shipped A100 Llama-3-8B profile interpolated against the line fitted to it
    (``calibrated``), on the same stream, side by side: the interpolation's cost."""
    from twin.config.data_files import trace_file
    from twin.importers.iteration_profile import read_iteration_profile
    from twin.model.iteration import packed_profile

    table = read_iteration_profile(trace_file("builtin:a100_llama3_8b_tp1_iterations.csv.gz"))
    line = (0.0105, 8.0e-5, 8.0e-5, 7.0e-8)  # c0, c_pf, c_b, c_kv: about that profile's fit
    base = (mode, *line, 64, 400_000, budget)
    n = arrivals.shape[0]
    rates = {}
    for label, extra in (("calibrated", {}), ("profile", {"iteration": packed_profile(table)})):

        def run(extra=extra):
            rep = q.BatchingReplica(*base, **extra)
            rep.step(arrivals, prompt, output, math.inf)

        rates[label] = n / timed(run, repeats)
        print(f"iteration model {label:<17}{fmt_rate(rates[label])}")
    print(f"profile / calibrated cost            {rates['calibrated'] / rates['profile']:.2f}x")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a few seconds)")
    args = ap.parse_args(argv)
    if args.quick:
        args.n_fcfs, args.n_ref, args.n_simpy = 200_000, 20_000, 10_000
        args.n_batch, args.n_batch_ref, args.repeats = 5_000, 500, 3
    else:
        args.n_fcfs, args.n_ref, args.n_simpy = 4_000_000, 200_000, 100_000
        args.n_batch, args.n_batch_ref, args.repeats = 100_000, 5_000, 5
    t0 = time.perf_counter()
    bench_fcfs(args)
    bench_batching(args)
    print(f"total benchmark time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
