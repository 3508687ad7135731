"""The What-if page's site mode (drawn by `whatif.py`, not a page of its own): a stored site,
a workload, change lines in the grammar of `hpc.site.changes`; before/after per partition."""

from __future__ import annotations

import dataclasses

import streamlit as st

from dashboard import context
from dashboard.config import JOBS_RANGE, SEED_RANGE
from dashboard.scenario import (
    SITE_DEFAULT_POLICIES,
    ScenarioError,
    WhatIfRequest,
    change_lines,
)
from dashboard.site_whatif import (
    SiteOutcome,
    run_site_whatif,
    stored_site,
    workload_choices,
)
from dashboard.text import escape_markdown, with_spans
from hpc.errors import HpcError
from hpc.site.whatif import GRAMMAR_LINES, SITE_POLICIES, ChangeLineError, changed_site


def _index(options: list[str], value: str) -> int:
    return options.index(value) if value in options else 0


def draw_live(shared: WhatIfRequest, sites: list[str], *, linked_workload: bool) -> None:
    """On live Slurm: the cluster's stored site and imported history, unless the link names
    others (`linked_workload`: the link names its workload)."""
    needed_for = "A what-if on live Slurm replays the cluster's imported history on its site"
    state, history = context.live_history(site=True, needed_for=needed_for)
    st.caption(f"Live Slurm: {escape_markdown(state.cluster)}'s site "
               f"{escape_markdown(history.site_label)} and its imported history, "
               f"{escape_markdown(history.workload_label)}. The generated machine is on the "
               "simulated source (Overview).")  # fmt: skip
    workload = shared.workload if linked_workload else history.workload_key
    policies = tuple(p for p in shared.policies if p in SITE_POLICIES) or SITE_DEFAULT_POLICIES
    draw(dataclasses.replace(shared, site=shared.site or str(history.site_label),
                             workload=workload, policies=policies), sites)  # fmt: skip


def draw(shared: WhatIfRequest, sites: list[str]) -> None:
    """The site what-if's inputs, its run, and its last outcome."""
    if shared.site and shared.site not in sites:
        st.warning(f"The link's site {escape_markdown(shared.site)} is not stored; "
                   "showing the first one.")  # fmt: skip
    workloads = workload_choices(context.store())
    keys = list(workloads)
    c1, c2 = st.columns(2)
    site = str(c1.selectbox("Site", sites, index=_index(sites, shared.site), key="site_label"))
    picked = c2.selectbox("Workload", keys, index=_index(keys, shared.workload),
                          format_func=workloads.__getitem__, key="site_workload")  # fmt: skip
    workload = str(picked)
    c3, c4 = st.columns(2)
    jobs = c3.number_input("Jobs (generated workload)", *JOBS_RANGE, shared.jobs, step=1000,
                           key="site_jobs")  # fmt: skip
    seed = c4.number_input("Seed", *SEED_RANGE, shared.seed, key="site_seed")
    text = st.text_area(
        "Changes to the site, one per line",
        "\n".join(shared.changes),
        placeholder="add 4 nodes to gpu\nqos normal MaxTRESPU=cpu=256",
        help="One of, per line: " + "; ".join(GRAMMAR_LINES) + ". Times from the trace's "
        "start, in seconds or with s, m, h, d.",
    )
    chosen = [p for p in shared.policies if p in SITE_POLICIES] or list(SITE_DEFAULT_POLICIES)
    policies = st.multiselect("Policies", SITE_POLICIES, default=chosen, key="site_policies")
    if st.button("Run what-if", type="primary"):
        _run(site, workload, int(jobs), int(seed), change_lines(text), tuple(policies))
    outcome: SiteOutcome | None = st.session_state.get("site_whatif")
    if outcome is not None:
        _show(outcome)


def _run(
    site: str, workload: str, jobs: int, seed: int, changes: tuple[str, ...],
    policies: tuple[str, ...],
) -> None:  # fmt: skip
    try:
        request = WhatIfRequest(jobs=jobs, seed=seed, policies=policies, site=site,
                                workload=workload, changes=changes)  # fmt: skip
        base = stored_site(context.store(), site)
        changed_site(base, changes)  # a bad line stops here, before anything is replayed
    except (ScenarioError, ChangeLineError) as exc:
        st.error(escape_markdown(exc))
        st.stop()
    st.query_params.from_dict(request.to_query())
    bar = st.progress(0.0, text="reading the workload ...")

    def report(done: int, total: int, what: str) -> None:
        bar.progress(done / total, text=what)

    try:
        loaded = context.site_workload(site, workload, jobs, seed)
        st.session_state["site_whatif"] = run_site_whatif(request, base, loaded, report)
    except (ScenarioError, HpcError) as exc:  # e.g. a stored trace's partitions the site lacks
        st.error(escape_markdown(exc))
        st.stop()
    bar.empty()


def _show(outcome: SiteOutcome) -> None:
    r = outcome.request
    changes = "; ".join(outcome.changes) or "no changes"
    st.subheader("Per partition, before and after")
    st.caption(f"{escape_markdown(outcome.workload)} on site {escape_markdown(r.site)} with "
               f"{escape_markdown(changes)}; {len(outcome.results)} policies, twice each, in "
               f"{outcome.wall_s:.1f} s.")  # fmt: skip
    st.dataframe(with_spans(outcome.partitions()), hide_index=True, key="site_partitions")
    st.subheader("Overall")
    st.dataframe(with_spans(outcome.overall()), hide_index=True, key="site_overall")
