from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from guardrails.facts.store import FactStore


def _fresh_pg_database(server_url: str) -> str:
    name = f"facts_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return server_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'facts.db'}"
    server = request.getfixturevalue("postgres_url")
    return _fresh_pg_database(server)


@pytest.fixture
def store(store_url: str) -> Iterator[FactStore]:
    s = FactStore.open(store_url)
    yield s
    s.close()
