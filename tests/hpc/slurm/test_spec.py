"""Job specs, scripts and the safety rails above the backends (no Slurm needed)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hpc.slurm.errors import ControllerUnreachableError, JobSpecError, RemitError
from hpc.slurm.remit import Remit
from hpc.slurm.retry import Backoff, with_retry
from hpc.slurm.spec import JobSpec, split_comment, tag_comment

HOSTILE = "a $(touch {p}) `touch {p}` ; touch {p} | & > < 'q' \"dq\" \\ *\n#SBATCH --partition=x"


def test_script_runs_hostile_arguments_as_data(tmp_path: Path) -> None:
    canary = tmp_path / "pwned"
    arg = HOSTILE.format(p=canary)
    spec = JobSpec(name="x", command=("printf", "%s", arg), env={"GREETING": arg})
    script = spec.render_script()
    assert "#SBATCH" not in script.splitlines()[2]  # no directive after the prologue
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout == arg
    assert not canary.exists()


def test_token_round_trips_any_comment() -> None:
    for comment in ["", "plain", "multi\nline [schedsight-token x]", "ends with ]"]:
        assert split_comment(tag_comment(comment, "0" * 32)) == (comment, "0" * 32)
    assert split_comment("no token here") == ("no token here", None)


@pytest.mark.parametrize(
    "changes",
    [
        {"command": ()},
        {"name": "a\0b"},
        {"array": "1-3; rm -rf /"},
        {"dependency": "afterok:1 && id"},
        {"begin": "$(date)"},
        {"env": {"BAD NAME": "x"}},
        {"workdir": "relative"},
        {"time_limit_s": 10},
        {"comment": "x [schedsight-token 123]"},
    ],
)
def test_spec_refuses_values_slurm_would_misread(changes: dict[str, object]) -> None:
    fields: dict[str, object] = {"name": "ok", "command": ("true",)} | changes
    with pytest.raises(JobSpecError):
        JobSpec(**fields)  # type: ignore[arg-type]


def test_sbatch_options_are_one_argv_element_each() -> None:
    spec = JobSpec(
        name="n;x", command=("true",), gpus=2, gpu_type="a100", array="0-3%2", comment="c\nd"
    )
    opts = spec.sbatch_options(comment="c\nd")
    assert "--job-name=n;x" in opts and "--comment=c\nd" in opts
    assert "--gpus=a100:2" in opts and "--array=0-3%2" in opts


def test_remit_refuses_outside_and_everything_when_empty() -> None:
    remit = Remit.of(["physics"], ["batch", "gpu"])
    remit.check_spec(JobSpec(name="a", command=("true",), account="physics", partition="gpu"))
    with pytest.raises(RemitError, match="account 'chemistry'"):
        remit.check_spec(JobSpec(name="a", command=("true",), account="chemistry", partition="gpu"))
    with pytest.raises(RemitError, match="partition 'debug'"):
        remit.check_spec(
            JobSpec(name="a", command=("true",), account="physics", partition="gpu,debug")
        )
    with pytest.raises(RemitError, match="no remit is configured"):
        Remit.of([], []).check_spec(JobSpec(name="a", command=("true",), account="physics"))


def test_retry_backs_off_then_gives_up_with_a_clear_message() -> None:
    slept: list[float] = []

    def down() -> int:
        raise ControllerUnreachableError("connect failure")

    with pytest.raises(ControllerUnreachableError, match="after 4 attempt") as info:
        with_retry(down, Backoff(4, 0.5, 2.0, 1.5), what="reading", sleep=slept.append)
    assert slept == [0.5, 1.0, 1.5]
    assert "nothing was done" in str(info.value)
    answers = iter([ControllerUnreachableError("x"), 7])

    def flaky() -> int:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert with_retry(flaky, Backoff(3, 0.0), what="reading", sleep=slept.append) == 7


def test_an_empty_remit_allows_nothing_and_everything_is_said_outright() -> None:
    assert not Remit().covers("physics", "batch")
    assert not Remit(any_account=True).covers("physics", "batch")  # no partition named
    assert Remit.everything().covers("anyone", "batch,gpu")
    narrow = Remit(frozenset({"physics"}), any_partition=True)
    assert narrow.covers("physics", "gpu") and not narrow.covers("chemistry", "gpu")
