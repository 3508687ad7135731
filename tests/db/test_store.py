"""Opening the store: the embedded SQLite database creates and migrates its own schema on
first use; a PostgreSQL one is migrated only by `schedsight db upgrade`, and says so."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from db.errors import SchemaOutOfDateError
from db.migrate import current_revision, downgrade, head_revision, upgrade
from db.session import make_engine, sqlite_url
from db.store import Store


def test_a_fresh_sqlite_file_gets_its_schema_on_first_open(tmp_path: Path) -> None:
    store = Store.open(sqlite_url(tmp_path / "new" / "schedsight.db"))
    assert current_revision(store.engine) == head_revision()


def test_an_older_sqlite_schema_is_brought_up_to_date(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "schedsight.db")
    engine = make_engine(url)
    upgrade(engine)
    downgrade(engine, "-1")
    assert current_revision(engine) != head_revision()
    assert current_revision(Store.open(url).engine) == head_revision()


def test_postgresql_still_asks_for_db_upgrade(db_url: str) -> None:
    if make_url(db_url).get_backend_name() != "postgresql":
        pytest.skip("the SQLite half is the tests above")
    with pytest.raises(SchemaOutOfDateError, match=r"has no schedsight schema.*schedsight db up"):
        Store.open(db_url)
    assert current_revision(make_engine(db_url)) is None
