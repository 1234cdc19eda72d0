import pytest

sqlalchemy = pytest.importorskip("sqlalchemy")


@pytest.mark.postgres
def test_throwaway_cluster_answers_queries(postgres_url: str) -> None:
    engine = sqlalchemy.create_engine(postgres_url)
    with engine.connect() as conn:
        assert conn.execute(sqlalchemy.text("select 40 + 2")).scalar() == 42
        version = conn.execute(sqlalchemy.text("show server_version")).scalar()
    engine.dispose()
    assert str(version).split(".")[0].isdigit()
