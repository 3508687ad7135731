"""Optional parts: a command whose extra is missing says which one to install (one line,
status 2); and the core installs from the package index without torch."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import schedsight
from schedsight.cli import main
from schedsight.extras import EXTRA_OF_MODULE

ROOT = Path(__file__).resolve().parents[2]


def test_a_missing_extra_is_named_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if the llm extra were not installed
    assert main(["serve-llm"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "schedsight: error: `serve-llm` needs the llm extra: pip install 'schedsight[llm]'\n"
    )


def test_serve_api_names_the_api_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # fastapi/uvicorn come with [api] too
    monkeypatch.setitem(sys.modules, "fastapi", None)
    for name in [m for m in sys.modules if m.startswith("api")]:
        monkeypatch.delitem(sys.modules, name)
    assert main(["serve-api", "--no-auth"]) == 2
    assert "`serve-api` needs the api extra: pip install 'schedsight[api]'" in (
        capsys.readouterr().err
    )


def test_a_missing_predict_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "lightgbm", None)
    for name in [m for m in sys.modules if m.startswith(("hpc.predict", "schedsight.predicting"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.delattr(schedsight, "predicting", raising=False)  # an earlier test loaded it
    assert main(["predict", "--trace", str(tmp_path / "none.swf")]) == 2
    assert "needs the predict extra: pip install 'schedsight[predict]'" in capsys.readouterr().err


def test_a_missing_core_module_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "inference.config", None)  # not an extra: a broken install
    with pytest.raises(ImportError):
        main(["serve-llm"])


def test_every_mapped_module_is_declared_in_its_extra() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    declared = {extra: " ".join(reqs).replace("-", "_") for extra, reqs in extras.items()}
    for module, extra in EXTRA_OF_MODULE.items():
        assert module in declared[extra], f"{module} is not in the {extra} extra"


@pytest.mark.install
@pytest.mark.slow
def test_the_core_installs_without_torch_and_simulates_into_sqlite(tmp_path: Path) -> None:
    """A real resolve from the package index (not --no-deps), into a fresh venv."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = str(venv / "bin" / "python")
    pip = [py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    done = subprocess.run([*pip, str(ROOT)], capture_output=True, text=True, timeout=600)
    if done.returncode != 0 and "NewConnectionError" in done.stderr + done.stdout:
        pytest.skip("the package index is not reachable from here")
    assert done.returncode == 0, done.stderr[-2000:]
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path),
           "SCHEDSIGHT_DATA_DIR": str(tmp_path / "data")}  # fmt: skip
    schedsight = str(venv / "bin" / "schedsight")
    trace = str(tmp_path / "w.swf")

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([schedsight, *argv], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=300, check=True)  # fmt: skip

    run("generate", "--jobs", "500", "--seed", "2", "--procs", "64", "-o", trace)
    saved = run("simulate", trace, "--save", "--json")
    assert '"mean_wait_s"' in saved.stdout
    assert "saved run 1" in saved.stderr
    assert "1" in run("runs", "list").stdout
    torch = subprocess.run([py, "-c", "import torch"], capture_output=True, env=env, cwd=tmp_path)
    assert torch.returncode != 0, "the core install pulled torch"
