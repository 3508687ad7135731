"""Schema migrations: upgrade from empty, idempotence, downgrade, and models in step."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from db.errors import SchemaOutOfDateError
from db.migrate import current_revision, downgrade, head_revision, require_current, upgrade
from db.models import Base
from db.session import make_engine
from schedsight.storage import Store


def test_upgrade_creates_the_schema_from_empty(db_url: str) -> None:
    engine = make_engine(db_url)
    assert current_revision(engine) is None
    before, after = upgrade(engine)
    assert (before, after) == (None, head_revision())
    require_current(engine)


def test_upgrade_twice_changes_nothing(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    assert upgrade(engine) == (head_revision(), head_revision())


def test_downgrade_to_base_and_back(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    downgrade(engine, "base")
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()


def test_models_match_the_migrations(store: Store) -> None:
    """Every model change needs its own revision: autogenerate finds nothing to add."""
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_an_unmigrated_database_is_refused_with_the_fix(db_url: str) -> None:
    with pytest.raises(SchemaOutOfDateError, match="run `schedsight db upgrade`"):
        require_current(make_engine(db_url))
