"""Hostile text and links against the dashboard (issue 20, probes 9 and 10): what a visitor
types or puts in a link is shown as typed, never as markdown, and never as a traceback."""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any

import pytest

from dashboard.text import escape_markdown
from db.decisions import record_decision
from db.session import transaction
from tests.dashboard.conftest import page

IMAGE = "![x](http://attacker/x.png)"
LINK = "[click](http://evil)"
# A link or an image that markdown would still render: `[text](url)` with unescaped brackets.
_LIVE_LINK = re.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\(")


def _bodies(at: Any) -> list[str]:
    """Every text Streamlit renders as markdown on the page: bodies, alerts and labels."""
    kinds = ("markdown", "caption", "error", "warning", "info", "success", "subheader", "title")
    texts = [str(e.value) for kind in kinds for e in at.get(kind)]
    return texts + [str(e.label) for e in at.expander]


def _assert_inert(at: Any, payload: str) -> None:
    assert not at.exception, [e.value for e in at.exception]
    bodies = _bodies(at)
    assert any(escape_markdown(payload) in b for b in bodies), bodies
    for body in bodies:
        assert not _LIVE_LINK.search(body), body
        assert payload not in body


def test_escape_markdown_escapes_every_ascii_punctuation_and_flattens_lines() -> None:
    text = f"{IMAGE} {LINK}\n# heading\r\n<img src=x> $x$ :red[y] www.evil.com"
    escaped = escape_markdown(text)
    assert "\n" not in escaped and "\r" not in escaped
    # Every punctuation character carries its backslash (CommonMark then shows it as typed).
    assert all(escaped[i - 1] == "\\" for i, c in enumerate(escaped) if c in string.punctuation
               and not (c == "\\" and escaped[i + 1 : i + 2] in string.punctuation))  # fmt: skip
    assert re.sub(r"\\(.)", r"\1", escaped) == text.replace("\r\n", " ").replace("\n", " ")


def test_a_question_from_the_ask_page_is_a_plain_label_on_decisions(dash_env: Path) -> None:
    at = page("ask").run()
    at.checkbox[0].uncheck()  # rules only: no language model in this test
    question = f"What if we lost 4 nodes tomorrow? {IMAGE} {LINK}"
    at.text_area[0].set_value(question)
    next(b for b in at.button if b.label == "Ask").click().run()
    assert not at.exception, [e.value for e in at.exception]
    decisions = page("decisions").run()
    _assert_inert(decisions, f"{IMAGE} {LINK}")
    assert decisions.expander[0].label.startswith("#1 · proposed · What if we lost 4 nodes")


def test_guard_reason_and_proposal_fields_are_shown_as_typed(dash_env: Path) -> None:
    from dashboard import context

    with transaction(context.store().sessions) as session:
        record_decision(
            session,
            question="advise: shorter waits",
            proposal={"action": {"kind": "set_policy"}, "chosen_by": LINK},
            rationale="r",
            objectives={},
            guard_verdict="rejected",
            guard_reason=f"outside the remit {IMAGE}",
        )
    at = page("decisions").run()
    _assert_inert(at, IMAGE)
    _assert_inert(at, LINK)


@pytest.mark.parametrize("key", ["jobs", "seed", "procs", "policies", "weights", "capacity"])
def test_whatif_link_parameters_are_inert(dash_env: Path, key: str) -> None:
    at = page("whatif")
    at.query_params[key] = IMAGE
    at.run()
    _assert_inert(at, IMAGE)
    assert "not usable" in at.warning[0].value


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("procs", "99999999999", "procs must be within 1..1000000"),
        ("jobs", "5", "jobs must be within 10..200000"),
        ("jobs", str(10**30), "jobs must be within 10..200000"),
        ("seed", "-1", "seed must be within 0..1000000"),
        ("weights", "nan,1,1,1", "weight age must be within"),
        ("weights", "1e12,1,1,1", "weight age must be within"),
        ("policies", "fcfs:easy,fcfs:easy", "each policy may be chosen once"),
        ("policies", "FCFS", "unknown policy"),
    ],
)
def test_whatif_out_of_range_links_warn_and_show_the_default(
    dash_env: Path, key: str, value: str, why: str
) -> None:
    at = page("whatif")
    at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    warning = re.sub(r"\\(.)", r"\1", at.warning[0].value)
    assert "not usable" in warning and why in warning
    assert at.number_input[0].value == 2000  # the default scenario is shown


def test_explain_job_from_a_link_is_inert(dash_env: Path) -> None:
    from dashboard.explain import predict_available

    if not predict_available():
        pytest.skip("hpc.predict is not installed")
    at = page("explain")
    at.query_params["job"] = LINK
    at.run(timeout=120)
    _assert_inert(at, LINK)
    assert at.error[0].value.startswith("Cannot explain job")


@pytest.mark.parametrize(("key", "value"), [("hour", "abc"), ("hour", "-3"), ("source", "nope")])
def test_overview_ignores_bad_link_parameters_with_a_warning(
    dash_env: Path, key: str, value: str
) -> None:
    at = page("overview")
    at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert f"The link's {key}={value.replace('-', chr(92) + '-')} is ignored" in at.warning[0].value
    assert at.dataframe  # the replay is drawn all the same
