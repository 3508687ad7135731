"""What-if: build a scenario, run it with visible progress, compare, save, reopen; or, once a
site is stored, change the site in the what-if grammar and compare it per partition."""

from __future__ import annotations

import streamlit as st

from dashboard import context
from dashboard.charts import fairness_chart, pareto_chart
from dashboard.config import JOBS_RANGE, PROCS_RANGE, SEED_RANGE
from dashboard.saved import list_saved, open_saved, save_whatif
from dashboard.scenario import (
    ALL_POLICIES,
    WEIGHT_MAX,
    WEIGHT_NAMES,
    ScenarioError,
    WhatIfOutcome,
    WhatIfRequest,
    run_whatif,
)
from dashboard.site_whatif import site_choices
from dashboard.text import escape_markdown, with_spans
from dashboard.views import whatif_site

GENERATED_MODE, SITE_MODE = "the generated machine", "a stored site"

st.title("What-if")
try:
    shared = WhatIfRequest.from_query(st.query_params.to_dict())
except ScenarioError as exc:
    st.warning(
        f"The link's scenario is not usable ({escape_markdown(exc)}); showing the default one."
    )
    shared = WhatIfRequest()

sites = site_choices(context.store())
if context.source() == "slurm":
    whatif_site.draw_live(shared, sites, linked_workload="workload" in st.query_params)
    st.stop()
if sites:
    modes = [GENERATED_MODE, SITE_MODE]
    if st.radio("Replay on", modes, index=1 if shared.site else 0, horizontal=True) == SITE_MODE:
        whatif_site.draw(shared, sites)
        st.stop()

st.subheader("Scenario")
c1, c2, c3 = st.columns(3)
jobs = c1.number_input("Jobs (generated workload)", *JOBS_RANGE, shared.jobs, step=1000)
seed = c2.number_input("Seed", *SEED_RANGE, shared.seed)
procs = c3.number_input("Processors", *PROCS_RANGE, shared.procs)
policies = st.multiselect("Policies", ALL_POLICIES, default=list(shared.policies))
capacity = st.text_input(
    "Capacity changes (KIND@SECONDS:UNITS, comma-separated)",
    ",".join(shared.capacity),
    help="Trace seconds: fail@86400:64,return@259200:64 loses 64 units from day 1 to day 3.",
)
with st.expander("Multifactor weights"):
    cols = st.columns(4)
    weights = tuple(
        float(col.number_input(name, 0.0, WEIGHT_MAX, float(w), key=f"w_{name}"))
        for col, name, w in zip(cols, WEIGHT_NAMES, shared.weights, strict=True)
    )

if st.button("Run what-if", type="primary"):
    try:
        request = WhatIfRequest(
            jobs=int(jobs), seed=int(seed), procs=int(procs), policies=tuple(policies),
            capacity=tuple(p.strip() for p in capacity.split(",") if p.strip()),
            weights=(weights[0], weights[1], weights[2], weights[3]),
        )  # fmt: skip
    except ScenarioError as exc:
        st.error(escape_markdown(exc))
        st.stop()
    st.query_params.from_dict(request.to_query())
    bar = st.progress(0.0, text="generating the workload ...")
    loaded = context.workload(request.jobs, request.seed, request.procs)
    try:

        def report(done: int, total: int, what: str) -> None:
            bar.progress(done / total, text=what)

        st.session_state["whatif"] = run_whatif(request, loaded, report)
    except ScenarioError as exc:
        st.error(escape_markdown(exc))
        st.stop()
    bar.empty()

outcome: WhatIfOutcome | None = st.session_state.get("whatif")
if outcome is not None:
    r = outcome.request
    st.subheader("Comparison")
    st.caption(f"{r.jobs} jobs (seed {r.seed}) on {escape_markdown(outcome.machine)}; "
               f"{len(outcome.outcomes)} policies in {outcome.wall_s:.1f} s")  # fmt: skip
    rows = outcome.comparison()
    st.dataframe(with_spans(rows), hide_index=True, key="comparison")
    st.subheader("Trade-off")
    st.altair_chart(pareto_chart(rows), width="stretch")
    st.subheader("Fairness across users")
    fair = outcome.user_wait_fairness()
    st.dataframe([{"policy": k, "jain_over_user_waits": v} for k, v in fair.items()],
                 hide_index=True)  # fmt: skip
    st.altair_chart(fairness_chart(outcome.fairness()), width="stretch")
    name = st.text_input("Name", f"what-if {r.jobs} jobs seed {r.seed}")
    if st.button("Save what-if"):
        if not outcome.outcomes[0].stored:
            st.info("This what-if was reopened from a save; it is saved already.")
        else:
            s = context.config()
            try:
                path = save_whatif(context.store(), s.data_dir, name, outcome,
                                   context.workload(r.jobs, r.seed, r.procs))  # fmt: skip
            except ValueError as exc:  # a name without a letter or digit
                st.error(escape_markdown(exc))
                st.stop()
            st.success(f"Saved as {escape_markdown(path.stem)} (runs stored in the database)")

st.subheader("Saved what-ifs")
saved = list_saved(context.config().data_dir)
if not saved:
    st.caption("None yet.")
else:
    key = st.selectbox("Open", [s["key"] for s in saved],
                       format_func=lambda k: next(f"{s['name']} ({s['saved_at']})"
                                                  for s in saved if s["key"] == k))  # fmt: skip
    if st.button("Open saved"):
        st.session_state["whatif"] = open_saved(context.config().data_dir, str(key))
        st.rerun()
