"""Explain: why a job waits and what would change it (predicted start, SHAP, alternatives)."""

from __future__ import annotations

import streamlit as st

from dashboard import context
from dashboard.explain import MISSING, predict_available
from dashboard.text import clip, escape_markdown

st.title("Explain a job")
if not predict_available():
    st.warning(MISSING)
    st.stop()

if context.source() == "slurm":
    from dashboard.views import explain_live

    explain_live.draw()
    st.stop()

from dashboard.explain import default_job, explain_job, train  # noqa: E402
from hpc.errors import HpcError  # noqa: E402
from hpc.predict.predictor import Predictor  # noqa: E402
from hpc.timetext import span_text  # noqa: E402

cfg = context.config()


@st.cache_resource(show_spinner="training the start-time predictor (once per workload) ...")
def predictor(jobs: int, seed: int, procs: int) -> Predictor:
    return train(context.workload(jobs, seed, procs))


model = predictor(cfg.jobs, cfg.seed, cfg.procs)
st.caption(f"Trained on the first 70% of the generated workload ({cfg.jobs} jobs, seed "
           f"{cfg.seed}); a job's prediction uses only what was known at its submit.")  # fmt: skip
job_text = st.text_input("Job id", context.query_value("job", str(default_job(model))))
with st.expander("Or describe a planned job: the same job with other resources"):
    c1, c2 = st.columns(2)
    procs = c1.number_input("Processors (0: as submitted)", 0, 1_000_000, 0)
    walltime = c2.number_input("Walltime in hours (0: as submitted)", 0.0, 24.0 * 365, 0.0)
try:
    job_id = int(job_text)
    st.query_params["job"] = str(job_id)
    shown = explain_job(model, job_id, procs=int(procs) or None,
                        walltime_h=float(walltime) or None)  # fmt: skip
except (ValueError, HpcError) as exc:
    # The job id comes from a link or the input: show it as typed, never as markdown.
    st.error(f"Cannot explain job {escape_markdown(clip(repr(job_text), 60))}: "
             f"{escape_markdown(clip(exc, 300))}")  # fmt: skip
    st.stop()

w10, w50, w90 = shown.wait_s
s10, s50, s90 = shown.start_h
st.subheader(f"Predicted start: hour {s50:.1f} of the trace")
st.markdown(f"Wait **{span_text(w50)}**, 80% interval {span_text(w10)} – "
            f"{span_text(w90)} (start between hour {s10:.1f} and {s90:.1f}); "
            f"job {shown.job_id}, {shown.planned}.")  # fmt: skip
lo, hi, chance = shown.likely
st.markdown(f"Most likely start: {span_text(lo)} – {span_text(hi)} after submission "
            f"(chance {chance:.0%}).")  # fmt: skip
if shown.actual_wait_s is not None:
    st.caption(f"It actually waited {span_text(shown.actual_wait_s)} in the replay.")
st.info(shown.sentence)
st.subheader("Why: SHAP contributions")
st.image(shown.waterfall_png, caption="from the average job's wait to this job's, by feature")
st.subheader("Alternatives, best first")
st.dataframe(shown.alternatives, hide_index=True)
