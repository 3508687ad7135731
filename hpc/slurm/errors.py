"""The exceptions of the Slurm integration, one small tree (all are `HpcError`s).

SlurmError                    base of everything `hpc.slurm` raises on purpose
├── ControllerUnreachableError     slurmctld, slurmdbd or slurmrestd did not answer (after retries)
├── SlurmCommandError         Slurm answered and refused or failed the request
├── SlurmDataError            Slurm's output is not in a shape this code knows
├── JobNotFoundError          no such job in the controller's queue
├── JobNotPendingError        the job asked about is running, held back or done
├── BackendUnavailableError        a backend cannot be used here (says why and what to do)
├── JobSpecError              a job spec that must not be submitted as it is
└── RemitError                a job or request outside the configured accounts/partitions
"""

from __future__ import annotations

from hpc.errors import HpcError


class SlurmError(HpcError):
    """Base class: a Slurm problem with a message that says what failed and what to do."""


class ControllerUnreachableError(SlurmError):
    """No answer from a Slurm daemon; nothing was done (or it is unknown whether it was)."""


class SlurmCommandError(SlurmError):
    """Slurm answered with an error: `what` failed with Slurm's own message."""

    def __init__(self, what: str, message: str, *, returncode: int | None = None) -> None:
        self.what, self.message, self.returncode = what, message, returncode
        rc = f" (exit {returncode})" if returncode is not None else ""
        super().__init__(f"{what} failed{rc}: {message or 'no message from Slurm'}")


class SlurmDataError(SlurmError):
    """Output from Slurm that cannot be read (unknown version or shape)."""


class JobNotFoundError(SlurmError):
    """The controller does not know the job (never submitted, or finished and purged)."""


class JobNotPendingError(SlurmError):
    """A question that only a pending job has an answer to, asked of another."""


class BackendUnavailableError(SlurmError):
    """A backend that cannot run here, with the reason."""


class JobSpecError(SlurmError):
    """A job spec with a value Slurm would misread or that is unsafe to send."""


class RemitError(SlurmError):
    """schedsight may only act inside its remit: these accounts and partitions."""
