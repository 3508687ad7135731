"""The dashboard's pages and navigation. Its entry script, which builds the configuration, is
`schedsight/dashboard_app.py` (`schedsight dashboard`, or `streamlit run` on that file)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

VIEWS = Path(__file__).resolve().parent / "views"


def run() -> None:
    """Draw the page the session is on (the entry script has called `context.use` first)."""
    st.set_page_config(page_title="schedsight", page_icon=":material/monitoring:", layout="wide")
    pages = [
        st.Page(VIEWS / "overview.py", title="Overview", url_path="overview", default=True),
        st.Page(VIEWS / "whatif.py", title="What-if", url_path="whatif"),
        st.Page(VIEWS / "ask.py", title="Ask", url_path="ask"),
        st.Page(VIEWS / "decisions.py", title="Decisions", url_path="decisions"),
        st.Page(VIEWS / "explain.py", title="Explain", url_path="explain"),
        st.Page(VIEWS / "my_jobs.py", title="My jobs", url_path="my_jobs"),
        st.Page(VIEWS / "accuracy.py", title="Accuracy", url_path="accuracy"),
    ]
    st.navigation(pages).run()
