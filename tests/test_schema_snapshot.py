"""schema.graphql in the repository is the exported SDL (regenerate with `make schema`)."""

from pathlib import Path

from livecast.schema.root import build_schema

SDL = Path(__file__).resolve().parents[1] / "schema.graphql"


def test_schema_graphql_is_up_to_date() -> None:
    assert SDL.read_text(encoding="utf-8") == build_schema().as_str() + "\n", "run `make schema` and commit it"
