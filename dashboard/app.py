"""The dashboard's entry point: `streamlit run dashboard/app.py` (or `schedsight dashboard`)."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="schedsight", page_icon=":material/monitoring:", layout="wide")
PAGES = [
    st.Page("views/overview.py", title="Overview", url_path="overview", default=True),
    st.Page("views/whatif.py", title="What-if", url_path="whatif"),
    st.Page("views/ask.py", title="Ask", url_path="ask"),
    st.Page("views/decisions.py", title="Decisions", url_path="decisions"),
    st.Page("views/explain.py", title="Explain", url_path="explain"),
]
st.navigation(PAGES).run()
