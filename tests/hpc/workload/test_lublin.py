"""The Lublin–Feitelson generator: reproducible, valid SWF, and statistically the model."""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import numpy.typing as npt
import pytest

from hpc.errors import WorkloadError
from hpc.workload.lublin import (
    BATCH,
    INTERACTIVE,
    WHOLE_SAMPLE,
    Estimates,
    JobClassParams,
    LublinParams,
    generate,
)
from hpc.workload.trace import N_FIELDS, SwfTrace

N_STAT = 50_000


@pytest.fixture(scope="module")
def trace() -> SwfTrace:
    return generate(N_STAT, seed=7)


def _col(trace: SwfTrace, name: str) -> npt.NDArray[np.float64]:
    return trace.column(name)


def _truncated_exp_moments(shape: float, scale: float, upper: float) -> tuple[float, float]:
    """(E[e**G; G <= upper], P(G <= upper)) for G ~ gamma(shape, scale), numerically."""
    g = np.linspace(1e-9, upper, 400_001)
    log_pdf = (shape - 1) * np.log(g) - g / scale - math.lgamma(shape) - shape * math.log(scale)
    pdf = np.exp(log_pdf)
    return float(np.trapezoid(pdf * np.exp(g), g)), float(np.trapezoid(pdf, g))


def _mean_interarrival_s(cls: JobClassParams) -> float:
    """Long-run mean gap of one stream: the daily cycle only warps time (mean weight 1)."""
    mean, mass = _truncated_exp_moments(cls.aarr * cls.arar, cls.barr, 13.0)
    return mean / mass


def test_same_seed_gives_identical_trace() -> None:
    a, b = generate(2_000, seed=42), generate(2_000, seed=42)
    np.testing.assert_array_equal(a.records, b.records)
    assert a.header.keys == b.header.keys


def test_different_seeds_give_different_traces() -> None:
    a, b = generate(2_000, seed=1), generate(2_000, seed=2)
    assert not np.array_equal(a.records, b.records)


def test_records_are_complete_swf(trace: SwfTrace) -> None:
    r = trace.records
    assert r.shape == (N_STAT, N_FIELDS)
    assert r.dtype == np.float64
    np.testing.assert_array_equal(_col(trace, "job_number"), np.arange(1, N_STAT + 1))
    assert (_col(trace, "wait_time") == -1).all()
    assert (_col(trace, "status") == 1).all()
    np.testing.assert_array_equal(_col(trace, "allocated_procs"), _col(trace, "requested_procs"))
    for unknown in ("avg_cpu_time", "used_memory", "requested_memory", "group_id", "think_time"):
        assert (_col(trace, unknown) == -1).all()
    assert set(np.unique(_col(trace, "queue"))) == {0.0, 1.0}  # interactive, batch
    assert np.array_equal(r, np.floor(r)), "every field is an integer"


def test_header_and_line_numbers(trace: SwfTrace) -> None:
    keys = trace.header.keys
    assert keys["Version"] == "2.2"
    assert keys["Computer"] == "schedsight Lublin-Feitelson generator"
    assert keys["MaxJobs"] == keys["MaxRecords"] == str(N_STAT)
    assert trace.header.max_procs == trace.header.max_nodes == 256
    assert "seed=7" in keys["Note"]
    assert "interactive+batch" in keys["Note"]
    assert trace.source == "<lublin seed=7>"
    assert trace.line_numbers.dtype == np.int64
    assert trace.line_numbers[0] == len(keys) + 1
    assert (np.diff(trace.line_numbers) == 1).all()


def test_submit_times_start_at_zero_and_never_decrease(trace: SwfTrace) -> None:
    submit = _col(trace, "submit_time")
    assert submit[0] == 0
    assert (np.diff(submit) >= 0).all()


def test_runtimes_are_positive_and_capped(trace: SwfTrace) -> None:
    run = _col(trace, "run_time")
    assert run.min() >= 1
    assert run.max() <= math.exp(12)


@pytest.mark.parametrize("procs", [1, 2, 100, 256, 1024])
def test_sizes_fit_the_machine(procs: int) -> None:
    size = generate(5_000, seed=3, procs=procs).column("allocated_procs")
    assert size.min() >= 1
    assert size.max() <= procs
    if procs >= 256:
        assert size.max() > procs / 4, "big machines get big jobs"


@pytest.mark.parametrize("cls", [INTERACTIVE, BATCH], ids=lambda c: c.name)
def test_serial_and_power_of_two_shares_match_the_model(
    trace: SwfTrace, cls: JobClassParams
) -> None:
    size = _col(trace, "allocated_procs")[_col(trace, "queue") == cls.queue].astype(np.int64)
    serial = (size == 1).mean()
    pow2 = ((size > 1) & (size & (size - 1) == 0)).mean()
    assert serial == pytest.approx(cls.serial_prob, abs=0.025)
    # Sizes drawn off the power-of-two branch can still land on one.
    other = 1.0 - cls.serial_prob - cls.pow2_prob
    assert cls.pow2_prob - 0.03 <= pow2 <= cls.pow2_prob + other + 0.03


def test_batch_interactive_mix_follows_the_stream_rates(trace: SwfTrace) -> None:
    rate_i = 1 / _mean_interarrival_s(INTERACTIVE)
    rate_b = 1 / _mean_interarrival_s(BATCH)
    share = (_col(trace, "queue") == INTERACTIVE.queue).mean()
    assert share == pytest.approx(rate_i / (rate_i + rate_b), abs=0.03)


def test_mean_interarrival_matches_the_model(trace: SwfTrace) -> None:
    rates = sum(1 / _mean_interarrival_s(c) for c in (INTERACTIVE, BATCH))
    submit = _col(trace, "submit_time")
    observed = submit[-1] / (N_STAT - 1)
    assert observed == pytest.approx(1 / rates, rel=0.15)


def test_mean_runtime_matches_the_hyper_gamma_given_sizes(trace: SwfTrace) -> None:
    size, queue = _col(trace, "allocated_procs"), _col(trace, "queue")
    expected = np.empty(N_STAT)
    for cls in (INTERACTIVE, BATCH):
        mine = queue == cls.queue
        e1, m1 = _truncated_exp_moments(cls.a1, cls.b1, 12.0)
        e2, m2 = _truncated_exp_moments(cls.a2, cls.b2, 12.0)
        # p sees the size as it would be on the 128-processor reference machine.
        p = np.clip(cls.pa_per_proc * size[mine] * 128 / 256 + cls.pb, 0.0, 1.0)
        expected[mine] = (p * e1 + (1 - p) * e2) / (p * m1 + (1 - p) * m2)
    assert _col(trace, "run_time").mean() == pytest.approx(expected.mean(), rel=0.08)


def test_bigger_batch_jobs_run_longer(trace: SwfTrace) -> None:
    batch = _col(trace, "queue") == BATCH.queue
    size, run = _col(trace, "allocated_procs")[batch], _col(trace, "run_time")[batch]
    assert np.median(run[size >= 64]) > 2 * np.median(run[size == 1])


def test_daily_cycle_puts_more_arrivals_in_the_day_than_the_night(trace: SwfTrace) -> None:
    hour = (_col(trace, "submit_time") % 86_400) // 3_600
    day = ((hour >= 9) & (hour < 17)).sum()
    night = ((hour >= 0) & (hour < 8)).sum()
    assert day > 2 * night


def test_rounded_estimates_cover_the_runtime_on_common_limits(trace: SwfTrace) -> None:
    run, est = _col(trace, "run_time"), _col(trace, "requested_time")
    assert (est >= run).all()
    limits = set(LublinParams().estimate_limits_s)
    assert all(e in limits or e == r for e, r in zip(est, run, strict=True))
    assert (est > run).mean() > 0.9


def test_exact_estimates_equal_the_runtime() -> None:
    t = generate(1_000, seed=5, params=LublinParams(estimates=Estimates.EXACT))
    np.testing.assert_array_equal(t.column("requested_time"), t.column("run_time"))


def test_users_follow_a_skewed_population(trace: SwfTrace) -> None:
    users = _col(trace, "user_id").astype(np.int64)
    assert users.min() >= 1
    assert users.max() <= 64
    counts = np.bincount(users, minlength=65)[1:]
    assert counts[0] == counts.max()
    assert counts[0] > 5 * counts[-1]


def test_whole_sample_parameters_give_untyped_jobs() -> None:
    t = generate(2_000, seed=9, params=LublinParams(job_classes=(WHOLE_SAMPLE,)))
    assert (t.column("queue") == -1).all()
    assert "Queues" not in t.header.keys


def test_interarrival_scale_compresses_time() -> None:
    base = generate(5_000, seed=11).column("submit_time")[-1]
    fast = generate(5_000, seed=11, params=LublinParams(interarrival_scale=0.5))
    assert fast.column("submit_time")[-1] < 0.75 * base


@pytest.mark.parametrize(
    ("n_jobs", "seed", "procs", "message"),
    [(0, 1, 256, "n_jobs"), (10, 1, 0, "procs"), (10, -1, 256, "seed")],
)
def test_invalid_arguments_raise_workload_error(
    n_jobs: int, seed: int, procs: int, message: str
) -> None:
    with pytest.raises(WorkloadError, match=message):
        generate(n_jobs, seed=seed, procs=procs)


def test_invalid_parameters_raise_workload_error() -> None:
    with pytest.raises(WorkloadError, match="estimate_factor_max"):
        LublinParams(estimate_factor_max=0.5)
    with pytest.raises(WorkloadError, match="job_classes"):
        LublinParams(job_classes=())
    with pytest.raises(WorkloadError, match="probabilities"):
        dataclasses.replace(BATCH, serial_prob=0.5, pow2_prob=0.6)


def test_200k_jobs_generate_quickly() -> None:
    start = time.perf_counter()
    t = generate(200_000, seed=1)
    assert len(t) == 200_000
    assert time.perf_counter() - start < 5.0
