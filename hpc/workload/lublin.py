"""A seeded synthetic SWF workload: the Lublin–Feitelson model of rigid parallel jobs.

U. Lublin and D. G. Feitelson, "The workload on parallel supercomputers: modeling the
characteristics of rigid jobs", J. Parallel Distrib. Comput. 63(11):1105–1122, 2003.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from hpc.errors import WorkloadError
from hpc.workload.trace import COL, N_FIELDS, SwfHeader, SwfTrace

FloatArray = npt.NDArray[np.float64]

BUCKETS_PER_DAY = 48  # the daily cycle is modelled in half-hour buckets
BUCKET_S = 86_400 // BUCKETS_PER_DAY
CYCLE_FIRST_BUCKET = 11  # the cycle gamma is fitted over buckets 11..58, wrapped onto 0..47
MAX_LOG_RUNTIME = 12.0  # the reference redraws runtimes above e**12 s (~45 h)
MAX_LOG_INTERARRIVAL = 13.0  # ... and inter-arrival times above e**13 s (~5 days)


@dataclass(frozen=True, slots=True)
class JobClassParams:
    """One job class: the published constants of `m_lublin99.c` for that class.

    Runtimes and inter-arrival times are modelled on a log scale: ln(runtime_s) is
    hyper-gamma(a1, b1, a2, b2, p), p = pa_per_proc * job size + pb clipped to [0, 1];
    ln(rush-hour inter-arrival_s) is gamma(aarr * arar, barr); the share of arrivals in
    half-hour bucket i is the gamma(anum, bnum) mass on [i - 0.5, i + 0.5]. Gammas are
    (shape, scale). Sizes are 1 with `serial_prob`, else 2**u with u two-stage uniform on
    [ulow, umed] (probability uprob) or [umed, uhi], rounded to an integer exponent with
    (unconditional) probability `pow2_prob` (serial + pow2 <= 1). ulow/umed/uhi are log2 of
    job sizes on a machine of `LublinParams.reference_procs` processors.
    """

    name: str
    queue: int  # SWF queue number written for this class; -1 when the class is unknown
    serial_prob: float
    pow2_prob: float
    ulow_log2: float
    umed_log2: float
    uhi_log2: float
    uprob: float
    a1: float
    b1: float
    a2: float
    b2: float
    pa_per_proc: float
    pb: float
    aarr: float
    barr: float
    arar: float
    anum: float
    bnum: float

    def __post_init__(self) -> None:
        probs = (self.serial_prob, self.pow2_prob, self.uprob, self.serial_prob + self.pow2_prob)
        if not all(0.0 <= x <= 1.0 for x in probs):
            raise WorkloadError(f"Lublin class {self.name!r}: probabilities must be in [0, 1]")
        if not 0.0 <= self.ulow_log2 <= self.umed_log2 <= self.uhi_log2:
            raise WorkloadError(f"Lublin class {self.name!r}: need 0 <= ulow <= umed <= uhi")
        for key in ("a1", "b1", "a2", "b2", "aarr", "barr", "arar", "anum", "bnum"):
            if not getattr(self, key) > 0.0:
                raise WorkloadError(f"Lublin class {self.name!r}: {key} must be > 0")


# Constants of m_lublin99.c (Parallel Workloads Archive), as published with the paper.
INTERACTIVE = JobClassParams(
    name="interactive", queue=0, serial_prob=0.1541, pow2_prob=0.625,
    ulow_log2=1.0, umed_log2=3.0, uhi_log2=5.5, uprob=0.705,
    a1=3.8351, b1=0.6605, a2=7.073, b2=0.6856, pa_per_proc=-0.0118, pb=0.9156,
    aarr=6.5510, barr=0.6621, arar=0.9797, anum=8.9186, bnum=3.6680,
)  # fmt: skip
BATCH = JobClassParams(
    name="batch", queue=1, serial_prob=0.2927, pow2_prob=0.6686,
    ulow_log2=1.2, umed_log2=5.0, uhi_log2=7.0, uprob=0.875,
    a1=6.57, b1=0.823, a2=639.1, b2=0.0156, pa_per_proc=-0.003, pb=0.6986,
    aarr=6.0415, barr=0.8531, arar=1.0519, anum=6.1271, bnum=5.2740,
)  # fmt: skip
WHOLE_SAMPLE = JobClassParams(
    name="all", queue=-1, serial_prob=0.244, pow2_prob=0.576,
    ulow_log2=0.8, umed_log2=4.5, uhi_log2=7.0, uprob=0.86,
    a1=4.2, b1=0.94, a2=312.0, b2=0.03, pa_per_proc=-0.0054, pb=0.78,
    aarr=10.2303, barr=0.4871, arar=1.0225, anum=8.1737, bnum=3.9631,
)  # fmt: skip

# Common wall-clock limits users round their estimates up to: 5 min .. 48 h.
DEFAULT_LIMITS_S = (300, 600, 900, 1800, 3600, 7200, 14_400, 28_800, 43_200, 86_400, 172_800)


class Estimates(enum.Enum):
    """How `requested_time` is made; the model itself has no user estimates."""

    EXACT = "exact"  # requested_time = run_time (perfect estimates)
    ROUNDED = "rounded"  # run_time x U(1, factor_max) on a log scale, rounded up to a limit


@dataclass(frozen=True, slots=True)
class LublinParams:
    """The model's constants plus the knobs around it.

    `job_classes` is the batch/interactive mix: the default runs the interactive and batch
    arrival streams side by side (their rates set the mix: ~85% interactive); `(WHOLE_SAMPLE,)`
    uses the single untyped fit. Sizes scale with the machine: `generate(procs=P)` shifts
    ulow..uhi by log2(P / reference_procs) and feeds p the size as it would be on the
    reference machine, so only sizes change. Estimates default to ROUNDED because exact
    estimates flatter backfilling; user ids are Zipf(`user_zipf_exponent`) over `n_users`.
    """

    job_classes: tuple[JobClassParams, ...] = (INTERACTIVE, BATCH)
    reference_procs: int = 128  # machine size the published ulow/umed/uhi describe (2**7)
    interarrival_scale: float = 1.0  # multiplies every inter-arrival time; < 1 raises load
    estimates: Estimates = Estimates.ROUNDED
    estimate_factor_max: float = 4.0
    estimate_limits_s: tuple[int, ...] = DEFAULT_LIMITS_S
    n_users: int = 64
    user_zipf_exponent: float = 1.0

    def __post_init__(self) -> None:
        if not self.job_classes:
            raise WorkloadError("LublinParams: job_classes must name at least one class")
        if self.reference_procs < 1 or self.n_users < 1:
            raise WorkloadError("LublinParams: reference_procs and n_users must be >= 1")
        if self.interarrival_scale <= 0:
            raise WorkloadError("LublinParams: interarrival_scale must be > 0")
        if self.estimate_factor_max < 1.0:
            raise WorkloadError("LublinParams: estimate_factor_max must be >= 1")
        limits = self.estimate_limits_s
        if not limits or limits[0] < 1 or any(b <= a for a, b in pairwise(limits)):
            raise WorkloadError("LublinParams: estimate_limits_s must increase from >= 1")
        if self.user_zipf_exponent < 0:
            raise WorkloadError("LublinParams: user_zipf_exponent must be >= 0")


def generate(
    n_jobs: int, *, seed: int, params: LublinParams | None = None, procs: int = 256
) -> SwfTrace:
    """`n_jobs` jobs of the model on a `procs`-processor machine, as an SWF trace.

    Times are integer seconds since the trace start, which is midnight (the daily cycle's
    hour 0); the first job is submitted at 0. The queue field holds the job class.
    """
    for name, value, least in (("n_jobs", n_jobs, 1), ("procs", procs, 1), ("seed", seed, 0)):
        if value < least:
            raise WorkloadError(f"Lublin generator: {name} must be >= {least}, got {value}")
    p = params if params is not None else LublinParams()
    rng = np.random.Generator(np.random.PCG64(seed))

    # n arrivals per stream always cover the first n of the merged stream.
    streams = [_arrival_times_s(rng, c, n_jobs, p) for c in p.job_classes]
    times = np.concatenate(streams)
    kinds = np.repeat(np.arange(len(streams)), n_jobs)
    first = np.argsort(times, kind="stable")[:n_jobs]
    submit, kind = np.floor(times[first]), kinds[first]

    size = np.empty(n_jobs)
    run = np.empty(n_jobs)
    queue = np.empty(n_jobs)
    shift = math.log2(procs / p.reference_procs)
    for k, cls in enumerate(p.job_classes):
        idx = np.flatnonzero(kind == k)
        size[idx] = _sizes(rng, cls, idx.size, procs, shift)
        run[idx] = _runtimes_s(rng, cls, size[idx] * 2.0**-shift)
        queue[idx] = cls.queue

    records = np.full((n_jobs, N_FIELDS), -1.0)
    records[:, COL["job_number"]] = np.arange(1, n_jobs + 1)
    records[:, COL["submit_time"]] = submit
    records[:, COL["run_time"]] = run
    records[:, COL["allocated_procs"]] = size
    records[:, COL["requested_procs"]] = size
    records[:, COL["requested_time"]] = _estimates_s(rng, run, p)
    records[:, COL["status"]] = 1
    records[:, COL["user_id"]] = _user_ids(rng, n_jobs, p)
    records[:, COL["queue"]] = queue

    header = SwfHeader(keys=_header_keys(n_jobs, seed, procs, p))
    first_line = len(header.keys) + len(header.comments) + 1
    lines = np.arange(first_line, first_line + n_jobs, dtype=np.int64)
    return SwfTrace(header, records, lines, source=f"<lublin seed={seed}>")


def _header_keys(n_jobs: int, seed: int, procs: int, p: LublinParams) -> dict[str, str]:
    keys = {
        "Version": "2.2",
        "Computer": "schedsight Lublin-Feitelson generator",
        "MaxJobs": str(n_jobs),
        "MaxRecords": str(n_jobs),
        "MaxProcs": str(procs),
        "MaxNodes": str(procs),
        "MaxRuntime": str(int(math.exp(MAX_LOG_RUNTIME))),
    }
    if typed := [f"{c.queue}={c.name}" for c in p.job_classes if c.queue >= 0]:
        keys["Queues"] = ", ".join(typed)
    est = p.estimates.value
    if p.estimates is Estimates.ROUNDED:
        est += f" x<={p.estimate_factor_max:g}"
    keys["Note"] = (
        f"Lublin & Feitelson, JPDC 63(11) 2003; seed={seed}; classes="
        f"{'+'.join(c.name for c in p.job_classes)} (m_lublin99.c constants); "
        f"reference_procs={p.reference_procs}; interarrival_scale={p.interarrival_scale:g}; "
        f"estimates={est}; users={p.n_users} zipf s={p.user_zipf_exponent:g}"
    )
    return keys


def _arrival_times_s(
    rng: np.random.Generator, cls: JobClassParams, n: int, p: LublinParams
) -> FloatArray:
    """Arrival times of one class's stream: a renewal process warped by the daily cycle.

    Each gap is drawn in "average-bucket" seconds and spent at the rate of the cycle's
    weight (mean 1): busy buckets take more gap-seconds to pass, so they get more arrivals.
    The stream starts with an arrival at midnight.
    """
    log_gap = _truncated_gamma(rng, cls.aarr * cls.arar, cls.barr, MAX_LOG_INTERARRIVAL, n)
    gaps = np.exp(log_gap[:-1]) * (p.interarrival_scale / BUCKET_S)
    points = np.concatenate(([0.0], np.cumsum(gaps)))
    weights = _daily_weights(cls.anum, cls.bnum)
    day = np.floor(points / BUCKETS_PER_DAY)  # a day's weights sum to BUCKETS_PER_DAY
    left = points - day * BUCKETS_PER_DAY
    edges = np.concatenate(([0.0], np.cumsum(weights)))
    bucket = np.clip(np.searchsorted(edges, left, side="right") - 1, 0, BUCKETS_PER_DAY - 1)
    within = (left - edges[bucket]) / weights[bucket]
    times: FloatArray = (day * BUCKETS_PER_DAY + bucket + np.minimum(within, 1.0)) * BUCKET_S
    return times


def _daily_weights(anum: float, bnum: float) -> FloatArray:
    """Relative arrival rate of each half-hour bucket of the day, normalised to mean 1."""
    weights = np.empty(BUCKETS_PER_DAY)
    for i in range(CYCLE_FIRST_BUCKET, CYCLE_FIRST_BUCKET + BUCKETS_PER_DAY):
        mass = _gamma_cdf(i + 0.5, anum, bnum) - _gamma_cdf(i - 0.5, anum, bnum)
        weights[(i - 1) % BUCKETS_PER_DAY] = mass
    weights *= BUCKETS_PER_DAY / weights.sum()
    return weights


def _gamma_cdf(x: float, shape: float, scale: float) -> float:
    """Regularised lower incomplete gamma P(shape, x/scale), by its power series."""
    z = x / scale
    if z <= 0.0:
        return 0.0
    term = total = 1.0 / shape
    n = 1
    while abs(term) > 1e-16 * total and n < 10_000:
        term *= z / (shape + n)
        total += term
        n += 1
    return min(1.0, total * math.exp(shape * math.log(z) - z - math.lgamma(shape)))


def _truncated_gamma(
    rng: np.random.Generator, shape: float, scale: float, upper: float, n: int
) -> FloatArray:
    """Gamma(shape, scale) draws, redrawing any above `upper` (the model's cut-offs)."""
    out = rng.gamma(shape, scale, n)
    bad = np.flatnonzero(out > upper)
    while bad.size:
        out[bad] = rng.gamma(shape, scale, bad.size)
        bad = bad[out[bad] > upper]
    return out


def _sizes(
    rng: np.random.Generator, cls: JobClassParams, n: int, procs: int, shift: float
) -> FloatArray:
    """Job sizes: serial, power of two, or any size, from a two-stage uniform on log2."""
    uhi = min(cls.uhi_log2 + shift, math.log2(procs))
    ulow = min(cls.ulow_log2, uhi)
    umed = min(max(cls.umed_log2 + shift, ulow), uhi)
    kind = rng.random(n)
    low_stage = rng.random(n) <= cls.uprob
    log2 = np.where(low_stage, rng.uniform(ulow, umed, n), rng.uniform(umed, uhi, n))
    log2 = np.where(kind <= cls.serial_prob + cls.pow2_prob, np.floor(log2 + 0.5), log2)
    size = np.floor(2.0**log2 + 0.5)
    size[kind <= cls.serial_prob] = 1.0
    return np.clip(size, 1.0, procs)


def _runtimes_s(rng: np.random.Generator, cls: JobClassParams, ref_size: FloatArray) -> FloatArray:
    """Runtimes (s, >= 1): e**hyper-gamma, the first gamma less likely for bigger jobs."""
    p_first = np.clip(cls.pa_per_proc * ref_size + cls.pb, 0.0, 1.0)
    runtimes = np.empty(ref_size.size)
    todo = np.arange(ref_size.size)
    while todo.size:  # a redraw re-picks the gamma too, as the reference does
        first = rng.random(todo.size) <= p_first[todo]
        shape = np.where(first, cls.a1, cls.a2)
        scale = np.where(first, cls.b1, cls.b2)
        log_run = rng.gamma(shape, scale)
        ok = log_run <= MAX_LOG_RUNTIME
        runtimes[todo[ok]] = np.floor(np.exp(log_run[ok]))
        todo = todo[~ok]
    return runtimes


def _estimates_s(rng: np.random.Generator, run: FloatArray, p: LublinParams) -> FloatArray:
    """User runtime estimates: never below the runtime (see `Estimates`)."""
    if p.estimates is Estimates.EXACT:
        return run.copy()
    factor = np.exp(rng.uniform(0.0, math.log(p.estimate_factor_max), run.size))
    limits = np.asarray(p.estimate_limits_s, dtype=np.float64)
    slot = np.minimum(np.searchsorted(limits, run * factor), limits.size - 1)
    return np.maximum(limits[slot], run)


def _user_ids(rng: np.random.Generator, n: int, p: LublinParams) -> FloatArray:
    """User ids 1..n_users, user k submitting in proportion to 1 / k**s (Zipf-like)."""
    share = np.arange(1, p.n_users + 1, dtype=np.float64) ** -p.user_zipf_exponent
    users = rng.choice(p.n_users, size=n, p=share / share.sum()) + 1
    return users.astype(np.float64)
