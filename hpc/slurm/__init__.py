"""Slurm integration: read a live cluster, import its history, submit, act and estimate.

One `SlurmBackend` interface (`backend.py`) with three implementations: the command-line
tools (`cli_backend.py`), slurmrestd (`rest_backend.py`) and pyslurm (`pyslurm_backend.py`),
named once in `backends.py`; their JSON dialects are registered once in `dialects.py`.
The job-action vocabulary is `job_action.py`; safety (remit, audit, retries, idempotent
submit) lives above the backends in `actions.py`.
"""
