"""Who is asking on the "My jobs" page: the user a trusted request header names (set by the
authenticating proxy in front of the dashboard, as REMOTE_USER is for the portal API), and
what the page says when there is none. Pure logic, no Streamlit.
"""

from __future__ import annotations

from collections.abc import Mapping

SETTING = "SCHEDSIGHT_DASHBOARD_USER_HEADER"


def user_of(headers: Mapping[str, str], header: str) -> str | None:
    """The user `header` names in `headers` (any letter case); None where no header is
    trusted (`header` empty) or the request carries none."""
    if not header:
        return None
    wanted = header.lower()
    value = next((v for k, v in headers.items() if k.lower() == wanted), "")
    return value.strip() or None


def no_identity(header: str) -> str:
    """Why the page cannot tell whose jobs to show, and what to do about it."""
    if not header:
        return (
            "This dashboard trusts no header to say who you are, so it cannot tell which jobs "
            f"are yours. Its operator names one with {SETTING} (e.g. REMOTE_USER), set by the "
            "authenticating proxy in front of it; the Overview lists every job meanwhile."
        )
    return (
        f"Your request carries no {header} header, so the dashboard cannot tell which jobs "
        f"are yours: open it through the site's authenticating proxy, which sets {header}."
    )


def explain_link(job_id: int) -> str:
    """The Explain page on live Slurm for pending job `job_id`."""
    return f"/explain?source=slurm&job={job_id}"
