"""The exceptions of `hpc.predict`, one small tree.

PredictError             base: a prediction cannot be made (subclass of `HpcError`)
├── HistoryError         too little or unusable history to train on
├── SavedModelError      saved predictor bytes that do not fit this code or history
└── UnknownJobError      a job id that is not in the workload
"""

from __future__ import annotations

from hpc.errors import HpcError


class PredictError(HpcError):
    """A prediction, explanation or alternative that cannot be produced."""


class HistoryError(PredictError):
    """The workload cannot be used to train: too few jobs, or no start times."""


class SavedModelError(PredictError):
    """A saved predictor that this code cannot use: another format, other features, or
    trained on another history."""


class UnknownJobError(PredictError):
    """The job named is not in the workload."""

    def __init__(self, job_id: int, source: str) -> None:
        self.job_id = job_id
        super().__init__(
            f"job {job_id} is not in {source} (after cleaning); list job numbers with "
            "`schedsight predict --trace FILE`"
        )
