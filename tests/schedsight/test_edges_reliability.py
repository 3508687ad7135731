"""Hostile and careless input at the command line's edges (issue 20, probes 7, 11-14): each is
refused with one line on stderr and exit status 2, never a traceback, never a secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from schedsight.binding import is_loopback
from schedsight.cli import main
from schedsight.settings import Settings, SettingsError

JWT = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LWp3dC1wYXlsb2Fk.SECRETJWTTAILxyz123"
API_KEY = "sk-SECRETKEYSTART-0123456789abcdef"
RECORD = "1 0 0 {run} 4 -1 -1 4 100 -1 1 1 1 -1 1 -1 -1 -1"


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Exit status and stderr of `schedsight ARGS`, in process."""
    try:
        code = main(args)
    except SystemExit as exc:  # argparse refuses before a command runs
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def one_line_error(code: int, err: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    return err.strip()


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "schedsight", *args], capture_output=True,
                          text=True, check=False, env=env, timeout=120)  # fmt: skip


# Probe 7: an exposed server needs a key (serve-llm) or an explicit opt-in.


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "example.org"])
def test_serve_llm_refuses_an_exposed_bind_without_a_key(
    host: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SCHEDSIGHT_LLM_API_KEY", raising=False)
    err = one_line_error(*run(["serve-llm", "--host", host], capsys))
    assert err == (
        f"schedsight: error: serve-llm would listen on {host} without an API key, open to "
        "anyone who can reach it: set SCHEDSIGHT_LLM_API_KEY, bind 127.0.0.1, or pass "
        "--insecure-no-key"
    )


def test_serve_llm_refuses_an_exposed_bind_host_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SCHEDSIGHT_LLM_API_KEY", raising=False)
    monkeypatch.setenv("SCHEDSIGHT_BIND_HOST", "0.0.0.0")
    assert "without an API key" in one_line_error(*run(["serve-llm"], capsys))


def test_serve_llm_insecure_no_key_warns_and_goes_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("SCHEDSIGHT_LLM_API_KEY", raising=False)
    missing = tmp_path / "no-model"
    args = ["serve-llm", "--host", "0.0.0.0", "--insecure-no-key", "--model", str(missing)]
    code, err = run(args, capsys)
    # It went on past the check: the (missing) model is what stops it here.
    assert code == 2 and "Traceback" not in err
    warning, error = err.strip().splitlines()
    assert warning == (
        "schedsight: warning: serving on 0.0.0.0:8421 without an API key (--insecure-no-key): "
        "anyone who can reach the port can use the model"
    )
    assert "no such model" in error


def test_serve_llm_with_a_key_may_bind_anywhere(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("SCHEDSIGHT_LLM_API_KEY", API_KEY)
    code, err = run(["serve-llm", "--host", "0.0.0.0", "--model", str(tmp_path / "x")], capsys)
    assert code == 2 and "API key" not in err and "no such model" in err


def test_dashboard_refuses_an_exposed_bind_unless_asked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = one_line_error(*run(["dashboard", "--host", "0.0.0.0"], capsys))
    assert err.startswith("schedsight: error: the dashboard has no login: on 0.0.0.0")
    assert err.endswith("or pass --insecure-no-auth")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.0.1", True), ("localhost", True), ("::1", True),
     ("[::1]", True), ("0.0.0.0", False), ("::", False), ("10.0.0.1", False),
     ("host.example", False)],
)  # fmt: skip
def test_loopback_is_only_this_machine(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


# Probe 11: SWF values beyond int64 (or beyond sense) are refused, not corrupted.


def test_swf_run_time_beyond_int64_is_refused_with_file_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "big.swf"
    trace.write_text(f"; MaxProcs: 8\n{RECORD.format(run='1e308')}\n{RECORD.format(run=50)}\n")
    err = one_line_error(*run(["simulate", str(trace)], capsys))
    assert err == (
        f"schedsight: error: {trace}:2: field 4 (run_time): '1e308' is out of range: a time is "
        "at most 4,294,967,296 s (136 years)"
    )
    assert "run time <= 0" not in err
    assert main(["simulate", str(trace), "--skip-bad", "--json"]) == 0
    assert "skipped 1 malformed lines" in capsys.readouterr().err


# Probe 12: multifactor weights are finite numbers >= 0.


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "1e400"])
def test_multifactor_weight_options_refuse_nan_inf_and_negatives(
    value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "ok.swf"
    trace.write_text(f"; MaxProcs: 8\n{RECORD.format(run=50)}\n")
    args = ["simulate", str(trace), "--policy", "multifactor", f"--w-age={value}"]
    err = one_line_error(*run(args, capsys))
    assert err == (
        "schedsight simulate: error: argument --w-age: expected a finite number at least 0 and "
        f"at most 1e+12, got {value!r} (see schedsight simulate --help)"
    )


# Probe 13: a bad setting names the variable and the rule, never a value.

BAD_VALUES = {
    "bind_host": " ",
    "llm_timeout_s": "soon",
    "llm_max_retries": "99",
    "answer_ttl_s": "-1",
    "slurm_backend": "carrier-pigeon",
    "slurm_rest_url": "ftp://user:hunter2@example.com",
    "slurm_timeout_s": "0",
    "slurm_retries": "0",
    "offload_gpu_arch": "sm 80; rm -rf",
    "offload_gpu_vendor": "intel",
    "diomp_gasnet_conduit": "IBV!",
}


def _substrings(secret: str, size: int = 6) -> set[str]:
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


@pytest.mark.parametrize("field", sorted(BAD_VALUES))
def test_settings_errors_never_echo_secrets_or_values(
    field: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SCHEDSIGHT_SLURM_JWT", JWT)
    monkeypatch.setenv("SCHEDSIGHT_LLM_API_KEY", API_KEY)
    monkeypatch.setenv(f"SCHEDSIGHT_{field.upper()}", BAD_VALUES[field])
    err = one_line_error(*run(["db", "status"], capsys))
    assert err.startswith(f"schedsight: error: invalid settings: SCHEDSIGHT_{field.upper()} ")
    for secret in (JWT, API_KEY):
        leaked = [s for s in _substrings(secret) if s in err]
        assert not leaked, err
    if len(BAD_VALUES[field].strip()) > 2:  # "0" may well be part of the rule itself
        assert BAD_VALUES[field] not in err


def test_every_bad_setting_gets_its_own_line(monkeypatch: pytest.MonkeyPatch) -> None:
    for field, value in BAD_VALUES.items():
        monkeypatch.setenv(f"SCHEDSIGHT_{field.upper()}", value)
    with pytest.raises(SettingsError) as caught:
        Settings()
    lines = str(caught.value).removeprefix("invalid settings: ").splitlines()
    assert sorted(line.strip().split()[0] for line in lines) == sorted(
        f"SCHEDSIGHT_{f.upper()}" for f in BAD_VALUES
    )


def test_secrets_are_secret_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEDSIGHT_SLURM_JWT", JWT)
    monkeypatch.setenv("SCHEDSIGHT_LLM_API_KEY", API_KEY)
    settings = Settings()
    assert JWT not in repr(settings) and API_KEY not in repr(settings)
    assert settings.llm_api_key.get_secret_value() == API_KEY
    assert settings.slurm_jwt is not None and settings.slurm_jwt.get_secret_value() == JWT


def test_settings_errors_reach_a_subprocess_user_as_one_line() -> None:
    env = os.environ | {"SCHEDSIGHT_SLURM_JWT": JWT, "SCHEDSIGHT_LLM_API_KEY": API_KEY,
                        "SCHEDSIGHT_SLURM_REST_URL": "ftp://bad"}  # fmt: skip
    proc = cli("db", "status", env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "schedsight: error: invalid settings: SCHEDSIGHT_SLURM_REST_URL (slurm_rest_url): "
        "must be unix:/path or http(s)://host:port"
    )


# Probe 14: absurd sizes are refused by the option, not by a MemoryError deep inside.


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", "--jobs", str(10**12)],
         "argument --jobs: expected a whole number within 1..10,000,000, got '1000000000000'"),
        (["generate", "--jobs", "0"], "argument --jobs: expected a whole number within"),
        (["generate", "--jobs", "10", "--procs", "0"], "argument --procs: expected a whole number"),
        (["generate", "--jobs", "10", "--seed", "-1"], "argument --seed: expected a whole number"),
        (["generate", "--jobs", "10", "--seed", str(2**64)], "argument --seed: expected"),
        (["generate", "--jobs", "1" * 5000], "got '1111111111111111111111111111111111111...'"),
        (["agent", "advise", "goals", "--jobs", str(10**12)], "argument --jobs: expected"),
        (["agent", "ask", "q", "--nodes", str(10**12)], "argument --nodes: expected"),
        (["agent", "dispatch", "--jobs", "5000"], "argument --jobs: expected a whole number"),
        (["predict", "--trace", "t.swf", "--train-share", "nan"], "argument --train-share"),
        (["alternatives", "1", "--trace", "t.swf", "--delay-h", "inf"], "argument --delay-h"),
        (["alternatives", "1", "--trace", "t.swf", "--walltime-h", "1e300"],
         "argument --walltime-h"),
        (["explain", str(10**30), "--trace", "t.swf"], "argument job: expected a whole number"),
        (["serve-llm", "--port", "70000"], "argument --port: expected a whole number"),
        (["serve-llm", "--max-batch", "0"], "argument --max-batch: expected a whole number"),
        (["serve-llm", "--timeout", "nan"], "argument --timeout: expected a finite number"),
        (["dashboard", "--jobs", str(10**9)], "argument --jobs: expected a whole number"),
        (["simulate", "t.swf", "--mem-per-node-mb", str(10**20)], "argument --mem-per-node-mb"),
    ],
)  # fmt: skip
def test_absurd_numbers_are_refused_in_one_line(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = one_line_error(*run([*args, "-o", str(tmp_path / "x.swf")] if args[0] == "generate"
                              else args, capsys))  # fmt: skip
    assert message in err
    assert len(err) < 300


def test_generate_a_trillion_jobs_in_a_real_process(tmp_path: Path) -> None:
    proc = cli("generate", "--jobs", str(10**12), "-o", str(tmp_path / "x.swf"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        "schedsight generate: error: argument --jobs: expected a whole number within "
        "1..10,000,000, got '1000000000000' (see schedsight generate --help)"
    )
    assert not (tmp_path / "x.swf").exists()
