"""What every page shares, cached the Streamlit way: the configuration its entry script
handed over, the database as a resource (one per server), generated workloads and replays as
data (per arguments), the LLM on demand.
"""

from __future__ import annotations

import atexit
import contextlib
from typing import TYPE_CHECKING

import streamlit as st

from agent.cache.answers import AnswerCache, answer_cache
from agent.llm.client import LLMClient
from agent.llm.local_server import llm_endpoint
from dashboard import live
from dashboard.config import SOURCES, DashboardConfig, Source
from dashboard.live_site import LiveHistory, cluster_site
from dashboard.replay import generated_workload, replay
from dashboard.site_whatif import site_workload_for, stored_site
from dashboard.text import clip, escape_markdown
from db.store import Store
from hpc.sim import SimResult
from hpc.site.whatif import SiteWorkload
from hpc.slurm.backend import SlurmBackend
from hpc.slurm.errors import SlurmError
from hpc.slurm.state import ClusterState
from hpc.workload.loading import LoadedWorkload

if TYPE_CHECKING:
    from hpc.predict.live_answer import TrainedHistory
    from hpc.predict.pending import PendingStart

__all__ = ["DashboardConfig", "Source", "config", "use"]
_config: list[DashboardConfig] = []


def use(config: DashboardConfig) -> None:
    """The entry script hands the pages their configuration (on every run; the same one)."""
    _config[:] = [config]


def config() -> DashboardConfig:
    if not _config:
        raise RuntimeError(
            "the dashboard has no configuration: start it with `schedsight dashboard` "
            "(or `streamlit run schedsight/dashboard_app.py`)"
        )
    return _config[0]


@st.cache_resource
def store() -> Store:
    """The database; an embedded SQLite one is created and migrated on first use."""
    return Store.open(config().database_url)


@st.cache_data(show_spinner="generating the workload ...", max_entries=8)
def workload(jobs: int, seed: int, procs: int) -> LoadedWorkload:
    return generated_workload(jobs, seed, procs)


@st.cache_data(show_spinner="reading the workload for the site ...", max_entries=8)
def site_workload(site: str, workload: str, jobs: int, seed: int) -> SiteWorkload:
    """A site what-if's workload (`dashboard.site_whatif`), by the request's fields."""
    return site_workload_for(store(), stored_site(store(), site), workload, jobs=jobs, seed=seed)


@st.cache_data(show_spinner="replaying the workload ...", max_entries=8)
def replayed(jobs: int, seed: int, procs: int, policy: str) -> SimResult:
    return replay(workload(jobs, seed, procs), policy)


@st.cache_resource(show_spinner="starting the language model (first use only) ...")
def llm() -> LLMClient:
    """The agent's model: the configured server, or the embedded one started now and kept."""
    # The server lives as long as the dashboard process and is stopped when it exits.
    stack = contextlib.ExitStack()
    endpoint = stack.enter_context(llm_endpoint(config().llm))
    atexit.register(stack.close)
    return LLMClient(endpoint)


def query_value(key: str, default: str = "") -> str:
    value = st.query_params.get(key)
    return value if isinstance(value, str) and value else default


def query_int(key: str, default: int, lo: int, hi: int) -> int:
    """A whole-number link parameter within lo..hi; anything else is ignored with a warning
    (a link is outside input: it must not reach a widget that raises on it)."""
    text = query_value(key)
    if not text:
        return default
    try:
        value: int | None = int(text)
    except ValueError:
        value = None
    if value is None or not lo <= value <= hi:
        _ignored(key, text, f"a whole number within {lo}..{hi}")
        return default
    return value


def query_choice(key: str, choices: list[str], default: str) -> str:
    """A link parameter that must be one of `choices`; anything else is ignored with a warning."""
    text = query_value(key)
    if not text:
        return default
    if text not in choices:
        _ignored(key, text, "one of " + ", ".join(choices))
        return default
    return text


def _ignored(key: str, text: str, expected: str) -> None:
    shown = escape_markdown(clip(text, 40))
    st.warning(f"The link's {key}={shown} is ignored: expected {escape_markdown(expected)}.")


@st.cache_resource(show_spinner=False)
def answers() -> AnswerCache:
    """What-if answers shared by every session, reused for the same question and state
    within SCHEDSIGHT_ANSWER_TTL_S seconds."""
    return answer_cache(ttl_s=config().answer_ttl_s)


@st.cache_resource
def slurm_backend() -> SlurmBackend:
    return config().slurm_backend()


class _NoModelError(Exception):
    """No model for the cluster yet: raised, so that Streamlit keeps no answer for it."""


@st.cache_resource(show_spinner="Loading the start-time model of the imported history ...")
def _trained(cluster: str) -> TrainedHistory:
    make = config().live_model
    trained = None if make is None else make(cluster)
    if trained is None:
        raise _NoModelError(cluster)
    return trained


def live_model(cluster: str) -> TrainedHistory | None:
    """The live cluster's start-time model (`db.trained`: trained once per imported history,
    then loaded), kept by this dashboard process; None while none is configured or there is
    no history to train on (asked again on the next run: an import may come meanwhile)."""
    try:
        return _trained(cluster)
    except _NoModelError:
        return None


def source() -> Source:
    """What this session looks at: a link's ?source=, else the last choice of the session
    (the Overview's), else the configured one. What-if, Ask and Explain follow it."""
    picked = query_choice("source", list(SOURCES), st.session_state.get("source", config().source))
    st.session_state["source"] = picked
    return "slurm" if picked == "slurm" else "simulated"


def live_state() -> ClusterState:
    """The live cluster now; a Slurm that does not answer stops the page with its error."""
    try:
        return slurm_backend().cluster_state()
    except SlurmError as exc:
        st.error(f"Cannot read the Slurm cluster: {escape_markdown(exc)}")
        st.stop()


def live_history(*, site: bool, needed_for: str) -> tuple[ClusterState, LiveHistory]:
    """The live cluster now and what is stored from it; when the page needs what is not
    stored (`site`: the site too), it stops saying so: `needed_for` says what for."""
    state = live_state()
    history = LiveHistory.of(store(), state.cluster)
    if (why := history.missing(site=site)) is not None:
        st.warning(f"{escape_markdown(needed_for)}, but {escape_markdown(why)}.")
        st.stop()
    return state, history


def expected_starts(state: ClusterState, now_s: int) -> dict[int, PendingStart]:
    """Each pending job's expected start (plan and model); none, with a warning, where the
    accounting cannot be read."""
    try:
        return live.expected_starts(slurm_backend(), state, cluster_site(store(), state.cluster),
                                    live_model(state.cluster), now_s)  # fmt: skip
    except SlurmError as exc:
        st.warning(f"No expected starts (accounting unreadable): {escape_markdown(exc)}")
        return {}
