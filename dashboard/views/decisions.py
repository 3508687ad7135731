"""Decisions: the agent's proposals, their reasons and the objectives traded; admins decide."""

from __future__ import annotations

import streamlit as st

from dashboard import context
from dashboard.approvals import (
    NotAdminError,
    SlurmSide,
    admin_configured,
    approve,
    check_admin,
    decision_rows,
    reject,
)
from dashboard.text import clip, escape_markdown
from db.audit import list_audit
from db.session import transaction

st.title("Agent decisions")
cfg = context.config()
store = context.store()
if msg := st.session_state.pop("decision_msg", None):
    st.info(escape_markdown(msg))

token = st.text_input("Admin token (only an admin may approve)", type="password")
is_admin = False
if not admin_configured(cfg.admin_token):
    st.caption("Approvals are disabled: SCHEDSIGHT_ADMIN_TOKEN is not set where this runs.")
elif token:
    try:
        check_admin(token, cfg.admin_token)
        is_admin = True
        st.caption("Signed in as admin.")
    except NotAdminError as exc:
        st.error(escape_markdown(exc))

status = st.selectbox("Show", ["all", "proposed", "approved", "applied", "rejected", "failed"])
rows = [r for r in decision_rows(store) if status == "all" or r["status"] == status]
if not rows:
    st.caption("No decisions yet: ask the agent (Ask page) or run `schedsight agent advise`.")
slurm = SlurmSide(context.slurm_backend, cfg.remit, cfg.backoff)
for r in rows:
    # Questions come from the Ask page, which needs no login: never render them as markdown.
    label = f"#{r['id']} · {r['status']} · {escape_markdown(clip(r['question'], 90))}"
    with st.expander(label, expanded=r["status"] == "proposed"):
        st.markdown(f"**Proposed action** (chosen by {escape_markdown(r['chosen_by'])}, "
                    f"guard: {escape_markdown(r['guard'])})")  # fmt: skip
        st.json(r["action"] or {}, expanded=False)
        if (r["action"] or {}).get("diff"):  # a slurm.conf change: the diff an admin applies
            st.code(r["action"]["diff"], language="diff")
        st.markdown("**Rationale**")
        st.text(r["rationale"])
        st.markdown("**Objectives traded**")
        st.json(r["objectives"], expanded=False)
        if r["guard_reason"]:
            st.caption(f"guard: {escape_markdown(r['guard_reason'])}")
        if r["approved_by"]:
            st.caption(f"decided by {escape_markdown(r['approved_by'])}; "
                       f"outcome: {escape_markdown(r['outcome'])}")  # fmt: skip
        if r["status"] == "proposed":
            a, b = st.columns(2)
            if a.button("Approve", key=f"approve-{r['id']}", disabled=not is_admin):
                st.session_state["decision_msg"] = approve(
                    store, r["id"], token=token, admin_token=cfg.admin_token, slurm=slurm
                )
                st.rerun()
            if b.button("Reject", key=f"reject-{r['id']}", disabled=not is_admin):
                st.session_state["decision_msg"] = reject(
                    store, r["id"], token=token, admin_token=cfg.admin_token
                )
                st.rerun()

st.subheader("Audit log")
with transaction(store.sessions) as session:
    audit = [{"at": e.at.isoformat(timespec="seconds"), "actor": e.actor, "action": e.action,
              "target": e.target, "result": e.result, "detail": e.detail}
             for e in list_audit(session, limit=30)]  # fmt: skip
st.dataframe(audit, hide_index=True)
