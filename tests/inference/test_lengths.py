"""Joint prompt/output lengths (``lengths_pairing``, ``lengths_rank_correlation``): rows of a
sample file reproduce its joint distribution (every pair a line of the file, its Spearman
ρ within 0.02), a Gaussian copula keeps a given rank correlation over any marginals (the
marginals unchanged: KS distance within its 1% critical value), independent sampling is the
old streams' draws exactly, and the config errors each way can make."""

from __future__ import annotations

import csv
import gzip
import math

import numpy as np
import pytest
import yaml
from scipy import stats

from twin.config import ConfigError, load_config
from twin.config.data_files import data_file
from twin.config.schema import Service
from twin.model.distributions import make_sampler
from twin.model.fluid_models import LLMModel
from twin.model.lengths import length_sampler, normal_correlation, pairing
from twin.model.rng import stream

AZURE = "builtin:azure_llm_conversation_tokens.csv.gz"
PREFILL = {"dist": "empirical", "file": AZURE, "column": "num_prefill_tokens"}
DECODE = {"dist": "empirical", "file": AZURE, "column": "num_decode_tokens"}
N = 100_000
KS_1PCT = 1.63 / math.sqrt(N)
"""The one-sample Kolmogorov–Smirnov distance exceeded with probability 1% (large n)."""


@pytest.fixture(scope="module")
def azure_pairs() -> np.ndarray:
    """(prompt, output) of every line of the Azure trace, parsed here from the file."""
    with gzip.open(data_file(AZURE.removeprefix("builtin:")), "rt", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return np.array([(float(r["num_prefill_tokens"]), float(r["num_decode_tokens"])) for r in rows])


def service(prompt: dict, output: dict, **extra) -> Service:
    return Service.model_validate(
        {
            "id": "chat",
            "kind": "llm",
            "peak_rps": 1.0,
            "replicas": {"a": 1},
            "prompt_tokens": prompt,
            "output_tokens": output,
            **extra,
        }
    )


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(stats.spearmanr(a, b).statistic)


def test_rows_of_one_file_reproduce_its_joint_distribution(azure_pairs):
    chat = service(PREFILL, DECODE)
    assert pairing(chat) == "rows"
    prompt, output = length_sampler(chat, seed=3)(N)
    # every drawn pair is a line of the file
    lines = {tuple(pair) for pair in azure_pairs.tolist()}
    assert all(pair in lines for pair in zip(prompt.tolist(), output.tolist(), strict=True))
    trace_rho = spearman(azure_pairs[:, 0], azure_pairs[:, 1])
    assert trace_rho > 0.05  # so that independent draws (ρ ≈ 0) would fail the next line
    assert abs(spearman(prompt, output) - trace_rho) < 0.02
    # the marginals are the file's columns
    for drawn, column in ((prompt, azure_pairs[:, 0]), (output, azure_pairs[:, 1])):
        assert stats.ks_2samp(drawn, column).statistic < KS_1PCT * 1.2


def test_independent_pairing_draws_the_old_streams_exactly(azure_pairs):
    chat = service(PREFILL, DECODE, lengths_pairing="independent")
    prompt, output = length_sampler(chat, seed=5)(1000)
    old_prompt = make_sampler(chat.prompt_tokens, stream(5, "inference.chat.prompt"))(1000)
    old_output = make_sampler(chat.output_tokens, stream(5, "inference.chat.output"))(1000)
    assert np.array_equal(prompt, old_prompt) and np.array_equal(output, old_output)
    drawn = length_sampler(chat, seed=5)(N)
    assert abs(spearman(*drawn)) < 0.02 < spearman(azure_pairs[:, 0], azure_pairs[:, 1])


def test_different_sources_are_independent_by_default():
    chat = service({"dist": "uniform", "low": 1, "high": 9}, DECODE)
    assert pairing(chat) == "independent"
    assert pairing(service(PREFILL, {**DECODE, "file": "other.csv"})) == "independent"


@pytest.mark.parametrize("rho", [0.6, -0.4, 0.0])
def test_copula_keeps_the_rank_correlation_and_the_marginals(rho):
    prompt = {"dist": "lognormal", "median": 800, "sigma": 1.1}
    output = {"dist": "exponential", "mean": 200}
    drawn_p, drawn_o = length_sampler(
        service(prompt, output, lengths_rank_correlation=rho), seed=11
    )(N)
    # Spearman's ρ of n pairs has a standard error below (1 − ρ²)·1.1/√n: 4 of them
    assert abs(spearman(drawn_p, drawn_o) - rho) < 4 * 1.1 / math.sqrt(N)
    assert stats.kstest(drawn_p, stats.lognorm(1.1, scale=800).cdf).statistic < KS_1PCT
    assert stats.kstest(drawn_o, stats.expon(scale=200).cdf).statistic < KS_1PCT


def test_copula_over_uniform_choice_and_empirical_marginals(azure_pairs):
    choice = {"dist": "choice", "values": [512, 128, 2048], "weights": [2, 5, 3]}
    drawn_c, drawn_u = length_sampler(
        service(choice, {"dist": "uniform", "low": 10, "high": 30}, lengths_rank_correlation=1),
        seed=2,
    )(N)
    # the choice's shares within 4 binomial standard errors
    for value, share in ((128, 0.5), (512, 0.2), (2048, 0.3)):
        assert abs(np.mean(drawn_c == value) - share) < 4 * math.sqrt(share * (1 - share) / N)
    assert stats.kstest(drawn_u, stats.uniform(10, 20).cdf).statistic < KS_1PCT
    # ρ_s = 1: comonotone, so every uniform draw of a larger choice value is larger
    order = np.argsort(drawn_u)
    assert np.all(np.diff(drawn_c[order]) >= 0)
    # empirical marginals (here a file's two columns) by their quantiles
    drawn_p, drawn_o = length_sampler(
        service(PREFILL, DECODE, lengths_rank_correlation=-0.3), seed=2
    )(N)
    assert set(np.unique(drawn_p)) <= set(azure_pairs[:, 0])
    assert stats.ks_2samp(drawn_o, azure_pairs[:, 1]).statistic < KS_1PCT * 1.2
    # within the issue's 0.02 (ties of the discrete lengths may move ρ_s a little)
    assert abs(spearman(drawn_p, drawn_o) + 0.3) < 0.02


def test_normal_correlation_inverts_the_spearman_of_a_bivariate_normal():
    assert normal_correlation(1.0) == pytest.approx(1.0)
    assert normal_correlation(-1.0) == pytest.approx(-1.0)
    r = normal_correlation(0.5)
    # Spearman's ρ of a bivariate normal with correlation r: (6/π) asin(r/2)
    assert 6 / math.pi * math.asin(r / 2) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "extra",
    [{}, {"lengths_rank_correlation": 0.4}],
)
def test_a_seed_gives_the_same_draws_and_another_seed_others(extra):
    chat = service(PREFILL, DECODE, **extra)
    first, again, other = (length_sampler(chat, seed)(500) for seed in (7, 7, 8))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0])


def test_rows_pairing_shows_file_pairs_in_a_run(kit, tmp_path, azure_pairs):
    # at 0.3 requests/s in 1 s windows most windows hold one request or none: a window with
    # one arrival shows that request's pair, which must be a line of the file
    chat = kit.llm(peak_rps=0.3, replicas={"a": 2}, prompt=PREFILL, output=DECODE)
    data = kit.scenario([kit.site("a", 16)], [kit.region("r")], [chat], horizon=1200, window=1)
    _, inference, _ = kit.run_trace(data, tmp_path / "run")
    lone = kit.column(inference, "arrivals") == 1
    shown = np.column_stack(
        [
            kit.column(inference, "arrival_prompt_tokens")[lone],
            kit.column(inference, "arrival_output_tokens")[lone],
        ]
    )
    assert len(shown) > 150
    lines = {tuple(pair) for pair in np.maximum(1, azure_pairs).astype(np.int64).tolist()}
    assert all(tuple(pair) in lines for pair in shown.tolist())


def scenario_with(kit, **service_keys) -> dict:
    chat = kit.llm(peak_rps=1.0, replicas={"a": 1}, **service_keys)
    return kit.scenario([kit.site("a", 16)], [kit.region("r")], [chat])


@pytest.mark.parametrize(
    ("keys", "path", "words"),
    [
        ({"lengths_pairing": "rows"}, "lengths_pairing", "same file"),
        (
            {"lengths_pairing": "rows", "prompt": PREFILL, "output": {**DECODE, "file": "x.csv"}},
            "lengths_pairing",
            "same file",
        ),
        (
            {"lengths_pairing": "independent", "lengths_rank_correlation": 0.5},
            "lengths_rank_correlation",
            "remove one",
        ),
        (
            {
                "prompt": PREFILL,
                "output": DECODE,
                "lengths_pairing": "rows",
                "lengths_rank_correlation": 0.5,
            },
            "lengths_rank_correlation",
            "copula",
        ),
        ({"lengths_rank_correlation": 1.5}, "lengths_rank_correlation", "must be <= 1"),
        ({"lengths_pairing": "pairs"}, "lengths_pairing", "auto"),
    ],
)
def test_config_errors_name_the_key(kit, keys, path, words):
    with pytest.raises(ConfigError) as caught:
        kit.build(scenario_with(kit, **keys))
    full = f"workloads.inference.services[0].{path}"
    assert any(full == i.path and words in i.message for i in caught.value.issues), (
        caught.value.issues
    )


def test_pairing_keys_are_refused_for_single_and_traced_services(kit):
    svc = kit.single(peak_rps=1.0, replicas={"a": 1}, lengths_rank_correlation=0.2)
    data = kit.scenario([kit.site("a", 16)], [kit.region("r")], [svc])
    with pytest.raises(ConfigError) as caught:
        kit.build(data)
    assert [i.path for i in caught.value.issues] == [
        "workloads.inference.services[0].lengths_rank_correlation"
    ]
    traced = kit.llm(peak_rps=1.0, replicas={"a": 1}, lengths_pairing="rows")
    del traced["prompt_tokens"], traced["output_tokens"], traced["peak_rps"]
    traced["trace"] = {"file": AZURE}
    data = kit.scenario([kit.site("a", 16)], [kit.region("r")], [traced])
    with pytest.raises(ConfigError) as caught:
        kit.build(data)
    (issue,) = caught.value.issues
    assert issue.path.endswith("lengths_pairing") and "traced service" in issue.message


def test_fluid_llm_points_keep_the_pairs(azure_pairs):
    # the fluid model's context per request, (output − 1)(prompt + output / 2), averaged
    # over its 1,024 points and 8 seeds: the trace's mean with the pairs kept; with
    # independent points the mean of the product of the marginals, 7.9 % above it (long
    # prompts come with short outputs: Pearson −0.11)
    prompt, output = np.maximum(1, azure_pairs.T)
    paired_target = np.mean((output - 1) * (prompt + output / 2))
    apart_target = np.mean(output - 1) * np.mean(prompt) + np.mean((output - 1) * output / 2)
    assert apart_target / paired_target - 1 > 0.07
    for extra, target in (({}, paired_target), ({"lengths_pairing": "independent"}, apart_target)):
        chat = service(PREFILL, DECODE, **extra)
        means = [LLMModel(chat, stream(seed, "fluid")).contexts.mean() for seed in range(8)]
        assert abs(np.mean(means) / target - 1) < 0.025


def test_a_paired_file_without_a_line_holding_both_is_refused_at_load(kit, tmp_path):
    (tmp_path / "lengths.csv").write_text("prompt,output\n100,\n,20\n300,\n")
    prompt = {"dist": "empirical", "file": "lengths.csv", "column": "prompt"}
    chat = kit.llm(
        peak_rps=1.0, replicas={"a": 1}, prompt=prompt, output={**prompt, "column": "output"}
    )
    config = tmp_path / "scenario.yaml"
    config.write_text(yaml.safe_dump(kit.scenario([kit.site("a", 16)], [kit.region("r")], [chat])))
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    (issue,) = caught.value.issues
    assert issue.path == "workloads.inference.services[0].lengths_pairing"
    assert "no line with numbers in both 'prompt' and 'output'" in issue.message
    (tmp_path / "lengths.csv").write_text("prompt,output\n100,\n,20\n300,7\n")
    assert load_config(config).workloads.inference.services[0].lengths_pairing == "auto"
