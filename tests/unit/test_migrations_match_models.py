"""The migrations build exactly the schema the models describe (Alembic's autogenerate comparison),
on SQLite and, when configured, on PostgreSQL. A model changed without a migration fails here."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

import culm.domain.models  # noqa: F401  (every table on the metadata)
from culm.core.migrate import alembic_config, upgrade
from culm.domain.base import Base
from support import throwaway_database


def _differences(url: str) -> list[object]:
    upgrade(url)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_one_head() -> None:
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, heads


def test_migrations_match_models(tmp_path: Path) -> None:
    with throwaway_database() as pg_url:
        url = pg_url or f"sqlite:///{tmp_path / 'schema.db'}"
        diff = _differences(url)
    if diff:
        pytest.fail("models and migrations differ:\n" + "\n".join(map(repr, diff)))
