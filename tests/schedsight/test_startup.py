"""The CLI starts at once: building the parser, and a simulate, load none of the heavy
libraries (they are loaded by the commands that need them), and the parser's spelled-out
choices stay in step with the domain they mirror."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from schedsight import agent_commands, db_commands
from schedsight.arguments import ESTIMATES
from schedsight.cli import main

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "lightgbm", "pandas", "streamlit", "openai", "sqlalchemy", "fastapi",
         "matplotlib", "ortools")  # fmt: skip

PROBE = """
import json, sys
from schedsight.cli import build_parser, main
build_parser()
after_parser = [m for m in HEAVY if m in sys.modules]
assert main(["generate", "--jobs", "300", "--seed", "1", "--procs", "64", "-o", TRACE]) == 0
assert main(["-q", "simulate", TRACE, "--policy", "sjf", "--backfill", "easy", "--json"]) == 0
print(json.dumps({"parser": after_parser, "simulate": [m for m in HEAVY if m in sys.modules]}))
"""


def test_parser_and_simulate_load_no_heavy_library(tmp_path: Path) -> None:
    code = f"HEAVY = {HEAVY!r}\nTRACE = {str(tmp_path / 'w.swf')!r}\n{PROBE}"
    env = os.environ | {"PYTHONPATH": str(ROOT), "SCHEDSIGHT_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120, check=True)  # fmt: skip
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == {"parser": [], "simulate": []}


def test_spelled_out_choices_match_the_domain() -> None:
    from agent.batch.scenarios import FAMILIES
    from agent.batch.schedule import Objective
    from db.runs import MAX_LIST_LIMIT
    from hpc.workload.cleaning import Estimate

    assert tuple(e.value for e in Estimate) == ESTIMATES
    assert tuple(FAMILIES) == agent_commands.FAMILIES
    assert tuple(o.value for o in Objective) == agent_commands.OBJECTIVES
    assert db_commands.MAX_LIST_LIMIT == MAX_LIST_LIMIT


def test_version_comes_from_the_package_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"schedsight {version('schedsight')}"


@pytest.mark.parametrize(
    ("flags", "level"), [([], "WARNING"), (["-v"], "INFO"), (["-vv"], "DEBUG"), (["-q"], "ERROR")]
)
def test_verbosity_flags_set_the_log_level(
    flags: list[str], level: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logging

    seen: list[int] = []
    monkeypatch.setattr(logging, "basicConfig", lambda **kw: seen.append(kw["level"]))
    out = tmp_path / "w.swf"
    assert main([*flags, "generate", "--jobs", "10", "-o", str(out)]) == 0
    assert seen == [getattr(logging, level)]
