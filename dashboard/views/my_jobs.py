"""My jobs: the pending and running jobs of the user a trusted header names, with when each
pending one is expected to start; without that header, the page says so."""

from __future__ import annotations

import time

import streamlit as st

from dashboard import context, live
from dashboard.my_jobs import explain_link, no_identity, user_of
from dashboard.text import escape_markdown

cfg = context.config()
st.title("My jobs")
user = user_of(st.context.headers, cfg.user_header)
if user is None:
    st.warning(escape_markdown(no_identity(cfg.user_header)))
    st.stop()
state = context.live_state()
st.caption(f"{escape_markdown(user)} (from the {escape_markdown(cfg.user_header)} header) on "
           f"{escape_markdown(state.cluster)}, live.")  # fmt: skip
yours = live.mine(state, user)
if not yours.jobs:
    st.info(f"You have no pending or running job on {escape_markdown(state.cluster)} now.")
    st.stop()
now = int(time.time())
st.subheader("Pending: when they are expected to start")
if yours.pending:
    starts = context.expected_starts(state, now)  # planned on everyone's queue
    table = live.pending_rows(yours, now, starts)
    rows = [{**row, "explain": explain_link(j.job_id)}
            for j, row in zip(yours.pending, table, strict=True)]  # fmt: skip
    link = st.column_config.LinkColumn(display_text="why?")
    st.dataframe(rows, hide_index=True, key="my_pending", column_config={"explain": link})
else:
    st.caption("None of your jobs is pending.")
st.subheader("Running")
if yours.running:
    st.dataframe(live.running_rows(yours, now), hide_index=True, key="my_running")
else:
    st.caption("None of your jobs is running.")
