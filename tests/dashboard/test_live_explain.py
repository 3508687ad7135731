"""A live pending job's answer as the Explain page shows it: the pending jobs to pick from,
and the estimates side by side when no model is trained yet (the model's case is in
test_live_pages.py)."""

from __future__ import annotations

from dashboard.live import NO_MODEL, answer
from dashboard.live_explain import pending_choices, shown_answer
from tests.dashboard.test_live_pages import LiveCluster


def test_pending_jobs_oldest_first_with_what_a_user_recognizes() -> None:
    state = LiveCluster().cluster_state()
    assert pending_choices(state, 300 + 7500) == {
        2: "2 · bob · batch · 192 cores · waiting 2 h 05 min",
        3: "3 · alice · gpu · 8 cores · waiting 2 h 03 min",
    }


def test_without_a_model_the_plan_and_slurm_are_shown_and_why_not_the_model() -> None:
    state = LiveCluster().cluster_state()
    shown = shown_answer(answer(LiveCluster(), state, 3, None, None, 1_000))
    assert shown.headline.startswith("Job 3 (alice, gpu, 8 cores) is pending: ")
    assert [r["estimate"] for r in shown.starts] == ["forward plan of the queue",
                                                    "Slurm's own plan"]  # fmt: skip
    assert shown.starts[0]["from now"] == "0 s"  # the GPU nodes are idle
    assert shown.starts[1] == {"estimate": "Slurm's own plan", "start": "not planned",
                               "from now": "-"}  # fmt: skip
    assert shown.likely is None and shown.sentence is None and shown.waterfall_png is None
    assert shown.model == NO_MODEL
