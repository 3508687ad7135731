"""Persistence: SQLAlchemy models, sessions, migrations and the repository functions.

Importing the package also arms the audit log's append-only guard (see `db.audit`).
"""

from db import audit as _audit  # noqa: F401  (registers the before-flush guard)
