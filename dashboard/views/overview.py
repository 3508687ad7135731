"""Overview: the cluster and its queue, live from Slurm or from a simulated replay."""

from __future__ import annotations

import time

import streamlit as st

from dashboard import context, live
from dashboard.config import SOURCES
from dashboard.replay import snapshot, utilization_series
from dashboard.text import escape_markdown, with_spans

cfg = context.config()


st.title("Cluster and queue")
sources = list(SOURCES)
source = st.radio(
    "Source",
    sources,
    index=sources.index(context.source()),
    horizontal=True,
    format_func=lambda s: {"simulated": "simulated replay", "slurm": "live Slurm"}[s],
    help="What-if, Ask and Explain follow this choice: on live Slurm they work on the "
    "cluster's imported history, its stored site and its live queue.",
)
st.query_params["source"] = st.session_state["source"] = source

if source == "slurm":
    state = context.live_state()
    history = st.session_state.setdefault("live_util", [])
    history.append({"time": time.strftime("%H:%M:%S"), "utilization": live.busy_fraction(state)})
    del history[:-500]
    st.caption(f"{escape_markdown(state.cluster)} · Slurm {escape_markdown(state.release)} · "
               f"{state.backend} backend")  # fmt: skip
    a, b, c = st.columns(3)
    a.metric("Busy cores", f"{live.busy_fraction(state):.0%}")
    b.metric("Running jobs", len(state.running))
    c.metric("Pending jobs", len(state.pending))
    st.button("Refresh")
    st.subheader("Utilization over time (this session)")
    st.line_chart(history, x="time", y="utilization")
    st.subheader("Pending jobs: when they are expected to start, and why they wait")
    now = int(time.time())
    starts = context.expected_starts(state, now)
    st.dataframe(live.pending_rows(state, now, starts), hide_index=True)
    st.caption("Plan: the twin's forward plan of this queue (runtimes as each user's recent "
               "jobs ran against their requests). Model: the start-time model's median, "
               "trained on the imported history.")  # fmt: skip
    st.subheader("Running jobs")
    st.dataframe(live.running_rows(state), hide_index=True)
    st.subheader("Nodes")
    st.dataframe(live.node_rows(state), hide_index=True)
    st.stop()

t0 = time.perf_counter()
result = context.replayed(cfg.jobs, cfg.seed, cfg.procs, "fcfs:easy")
series = utilization_series(result)
span_h = max(1, int(series[-1]["hour"]))
busiest = int(max(series, key=lambda p: p["pending"])["hour"])
hour = st.slider(
    "Moment of the replay (hours from its start; opens at the longest queue)",
    0,
    span_h,
    context.query_int("hour", min(busiest, span_h), 0, span_h),
)
st.query_params["hour"] = str(hour)
snap = snapshot(result, int(result.jobs.submit_s.min()) + hour * 3600)
st.caption(f"Generated workload: {cfg.jobs} jobs (seed {cfg.seed}) on "
           f"{result.machine.describe()}, replayed under fcfs:easy")  # fmt: skip
a, b, c = st.columns(3)
a.metric("Busy", f"{snap.busy / max(snap.capacity, 1):.0%}", help=f"{snap.busy}/{snap.capacity}")
b.metric("Running jobs", len(snap.running))
c.metric("Pending jobs", len(snap.pending))
st.subheader("Utilization over time")
st.line_chart(series, x="hour", y="utilization")
st.subheader("Pending jobs and why they wait")
if snap.pending:
    st.dataframe(with_spans(snap.pending), hide_index=True)
else:
    st.caption("No job waits at this moment.")
st.subheader("Running jobs")
st.dataframe(with_spans(snap.running), hide_index=True)
st.caption(f"drawn in {time.perf_counter() - t0:.2f} s")
