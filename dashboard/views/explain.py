"""Explain: why a job waits and what would change it (needs hpc.predict)."""

from __future__ import annotations

import streamlit as st

from dashboard import context
from dashboard.explain import MISSING, predict_available

st.title("Explain a job")
job = st.text_input("Job id (or leave empty to describe a planned job)", context.query_value("job"))
if job:
    st.query_params["job"] = job
if not predict_available():
    st.warning(MISSING)
    st.stop()
st.info("hpc.predict.explain has landed but is not yet wired into this page.")
