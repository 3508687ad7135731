"""Accuracy: how right the live start predictions were on this cluster (stated chance against
hits, the p10-p90 band's coverage, the error over time) next to Slurm's own estimate."""

from __future__ import annotations

import streamlit as st

from dashboard import context
from dashboard.accuracy import AccuracyView, clusters
from dashboard.text import escape_markdown

EVERY = "every cluster"

st.title("Prediction accuracy")
st.caption("The live start predictions stored for pending jobs, judged once the jobs started: "
           "the same figures as `schedsight predict report`.")  # fmt: skip
store = context.store()
names = clusters(store)
options = [EVERY, *names]
picked = context.query_choice("cluster", options, names[0] if len(names) == 1 else EVERY)
cluster = st.selectbox("Cluster", options, index=options.index(picked))
view = AccuracyView.of(store, None if cluster == EVERY else cluster)
if cluster != EVERY:
    st.query_params["cluster"] = cluster
if (why := view.empty()) is not None:
    st.info(escape_markdown(why))
    st.stop()

st.markdown(escape_markdown(view.summary()))
st.subheader("Calibration: stated chance of the likely window against how often it hit")
if rows := view.calibration_rows():
    st.dataframe(rows, hide_index=True, key="calibration")
else:
    st.caption("No judged prediction stated a likely window (`slurm status` makes medians only).")
st.subheader("Start error: schedsight next to Slurm's own estimate")
st.dataframe(view.error_rows(), hide_index=True, key="errors")
st.caption("Absolute difference between predicted and actual start. 'same jobs': only the "
           "predictions for which all three estimates existed.")  # fmt: skip
st.subheader("Error over time (median, per day the predictions were made, UTC)")
st.dataframe(view.day_rows(), hide_index=True, key="days")
if series := view.day_series():
    st.line_chart(series, x="day", y="median error (min)", color="estimate")
