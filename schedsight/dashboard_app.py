"""The dashboard's Streamlit entry script and the composition root of a dashboard process:
it hands the pages their configuration, then draws them (`dashboard.app`).

`schedsight dashboard` builds the configuration from the settings it read (flags on top)
before the server starts; `streamlit run schedsight/dashboard_app.py` reads the settings
here, once per server process.
"""

from __future__ import annotations

import streamlit as st

from dashboard import app, context
from dashboard.config import DashboardConfig
from schedsight import dashboard_commands


@st.cache_resource
def _from_settings() -> DashboardConfig:
    from schedsight.settings import Settings
    from schedsight.wiring import Wiring

    return Wiring(Settings()).dashboard_config()


context.use(dashboard_commands.launched() or _from_settings())
app.run()
