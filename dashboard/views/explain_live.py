"""The Explain page on live Slurm (drawn by `explain.py`, not a page of its own): a pending
job of the live queue, answered with the start-time model persisted for the cluster's
imported history (as `schedsight when` answers it)."""

from __future__ import annotations

import time

import streamlit as st

from dashboard import context, live
from dashboard.live_explain import pending_choices, shown_answer
from dashboard.live_site import LiveHistory, cluster_site
from dashboard.text import clip, escape_markdown
from hpc.slurm.errors import SlurmError


def draw() -> None:
    state = context.live_state()
    history = LiveHistory.of(context.store(), state.cluster)
    trained = context.live_model(state.cluster)
    model = trained.label if trained is not None else live.NO_MODEL
    st.caption(f"Live Slurm: {escape_markdown(state.cluster)}, a pending job of its queue now. "
               f"Start-time model: {escape_markdown(model)}.")  # fmt: skip
    now = int(time.time())
    choices = pending_choices(state, now)
    if not choices:
        st.info("No job is pending on the cluster right now: there is no start to predict.")
        st.stop()
    ids = list(choices)
    asked = context.query_int("job", ids[0], 0, 2**53)
    if asked not in choices:
        st.warning(f"Job {asked} is not pending on {escape_markdown(state.cluster)}; showing "
                   "the oldest pending job.")  # fmt: skip
        asked = ids[0]
    job = int(st.selectbox("Pending job", ids, index=ids.index(asked),
                           format_func=choices.__getitem__, key="live_job"))  # fmt: skip
    st.query_params["job"] = str(job)
    site = cluster_site(context.store(), state.cluster)
    try:
        with st.spinner("Planning the queue and asking the model ..."):
            answer = live.answer(context.slurm_backend(), state, job, site, trained, now)
    except SlurmError as exc:
        st.error(f"Cannot explain job {job}: {escape_markdown(clip(exc, 300))}")
        st.stop()
    keep, kept = context.config().keep_answer, st.session_state.setdefault("kept_answers", set())
    if keep is not None and trained is not None and (state.cluster, job) not in kept:
        keep(context.store(), answer, state.cluster, trained)  # judged once the job starts
        kept.add((state.cluster, job))  # once per session and job, not on every rerun
    shown = shown_answer(answer)
    st.subheader(shown.headline)
    if shown.likely is not None:
        st.markdown(f"**{escape_markdown(shown.likely)}**")
    st.dataframe(shown.starts, hide_index=True, key="live_starts")
    if shown.sentence is None:
        why = history.missing(site=False) or shown.model
        st.warning(f"No model's prediction: {escape_markdown(why)}")
        return
    st.info(escape_markdown(shown.sentence))
    st.subheader("Why: SHAP contributions")
    st.dataframe(shown.drivers, hide_index=True, key="live_drivers")
    if shown.waterfall_png is not None:
        st.image(shown.waterfall_png, caption="from the average job's wait to this job's")
    st.subheader("Alternatives, best first")
    st.dataframe(shown.alternatives, hide_index=True, key="live_alternatives")
    st.caption(f"model: {escape_markdown(shown.model)}")
