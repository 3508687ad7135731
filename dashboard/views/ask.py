"""Ask: a what-if in plain words; the agent's reading of it is shown before its answer."""

from __future__ import annotations

import streamlit as st

from agent.errors import AgentError
from agent.modes.ask import AskResult, ask
from agent.records import save_records
from agent.tools.workspace import Workspace
from dashboard import context
from dashboard.live_site import LiveHistory
from dashboard.live_site import live_workspace as site_workspace
from dashboard.replay import cluster_workload
from dashboard.text import escape_markdown
from hpc.errors import HpcError
from hpc.model import Machine

NODES, CORES = 32, 8


@st.cache_resource(show_spinner="preparing the workload ...")
def workspace(jobs: int, seed: int) -> Workspace:
    loaded = cluster_workload(jobs, seed, NODES, CORES)
    return Workspace(loaded.jobs, loaded.machine)


@st.cache_resource(show_spinner="reading the imported history ...", max_entries=4)
def live_workspace(history: LiveHistory, machine: Machine) -> Workspace:
    """The agent's workspace on a live cluster's imported history (per import and shape)."""
    return site_workspace(context.store(), history, machine)


def on_live_slurm() -> Workspace:
    needed_for = "The agent on live Slurm answers on the cluster's imported history"
    state, history = context.live_history(site=False, needed_for=needed_for)
    try:
        machine = state.machine()
        ws = live_workspace(history, machine)
    except (HpcError, ValueError) as exc:
        st.error(f"Cannot read the imported history: {escape_markdown(exc)}")
        st.stop()
    site = f" and its stored site {history.site_label}" if history.site_label else ""
    st.caption(f"Live Slurm: {escape_markdown(state.cluster)}'s imported history, "
               f"{escape_markdown(history.workload_label)}{escape_markdown(site)}, replayed on "
               f"{escape_markdown(machine.describe())} from its first job; the numbers in every "
               "answer come from the simulator.")  # fmt: skip
    return ws


cfg = context.config()
st.title("Ask the agent")
if context.source() == "slurm":
    asked_on = on_live_slurm()
    lose = max(1, asked_on.machine.nodes // 4)
    example = f"What if we lost {lose} nodes for 6 hours?"  # from the history's first job
else:
    asked_on = workspace(cfg.jobs, cfg.seed)
    example = "What if we lost 8 nodes next week for 2 days?"
    st.caption(f"A generated workload of {cfg.jobs} jobs on {NODES} nodes x {CORES} cores; the "
               "numbers in every answer come from the simulator.")  # fmt: skip
question = st.text_area("Your what-if", context.query_value("q", example))
use_llm = st.checkbox(
    "Let the language model read the question (starts the local model on first use)",
    value=True,
)
if st.button("Ask", type="primary") and question.strip():
    st.query_params["q"] = question
    try:
        with st.status("Reading and simulating ...", expanded=False) as status:
            llm = context.llm() if use_llm else None
            result = ask(question, asked_on, llm, explore=use_llm, cache=context.answers())
            status.update(label=f"answered in {result.wall_s:.1f} s", state="complete")
    except (AgentError, ValueError) as exc:
        st.error(f"The agent could not answer: {escape_markdown(exc)}")
        st.stop()
    if result.record is not None:
        save_records(context.store().sessions, [result.record])
    st.session_state["ask"] = result

shown: AskResult | None = st.session_state.get("ask")
if shown is not None:
    result = shown
    st.subheader("How the question was read")
    w = result.whatif
    st.write(escape_markdown(w.describe()))
    # st.table renders markdown in its cells; the reading may come from the model.
    st.table({"nodes (+ added, - removed)": [w.node_delta],
              "starting in (h)": [w.start_in_hours],
              "for (h)": ["for good" if w.duration_hours is None else w.duration_hours],
              "policy": [escape_markdown(w.policy or "unchanged")],
              "more jobs": ["-" if w.workload_growth is None else f"{w.workload_growth:+.0%}"],
              "read by": [escape_markdown(result.interpreted_by)]})  # fmt: skip
    for note in result.notes:
        st.caption(f"note: {escape_markdown(note)}")
    st.subheader("Answer")
    st.code(result.answer, language=None)
    if result.mitigation:
        verdict = escape_markdown(result.mitigation["verdict"])
        st.caption(f"mitigation checked by the guard: {verdict}")
