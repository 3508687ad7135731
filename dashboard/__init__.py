"""The Streamlit dashboard: queue, what-if, decisions and explanations (DESIGN.md, dashboard/)."""
