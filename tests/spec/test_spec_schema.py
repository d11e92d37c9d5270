"""The published JSON Schema of reliant.yaml and the shipped example."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reliant.cli import main
from reliant.spec.documents import DOCUMENT_MODELS
from reliant.spec.load import load_paths
from reliant.spec.models import KINDS
from reliant.spec.schema import SCHEMA_ID, dumps, generate

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = ROOT / "docs" / "reliant.schema.json"
EXAMPLE = ROOT / "examples" / "reliant.yaml"


def test_published_schema_is_up_to_date() -> None:
    """docs/reliant.schema.json is exactly what the models generate (`reliant spec schema`)."""
    assert dumps() == PUBLISHED.read_text(), (
        "regenerate it: uv run reliant spec schema > docs/reliant.schema.json"
    )


def test_schema_is_one_of_the_kinds_discriminated_by_kind() -> None:
    """One branch per kind, in KINDS order, chosen by the `kind` property."""
    schema = generate()
    refs = [f"#/$defs/{kind}Document" for kind in KINDS]
    assert (SCHEMA_ID, refs) == (schema["$id"], [b["$ref"] for b in schema["oneOf"]])
    assert {"propertyName": "kind", "mapping": dict(zip(KINDS, refs, strict=True))} == schema[
        "discriminator"
    ]
    service = schema["$defs"]["ServiceDocument"]
    assert ["apiVersion", "kind", "metadata", "spec"] == service["required"]
    assert {"const": "Service", "title": "Kind", "type": "string"} == service["properties"]["kind"]


def test_pipeline_entries_name_the_policy_kinds() -> None:
    """Editors can complete a pipeline entry's kind from the schema."""
    items = generate()["$defs"]["PolicySpec"]["properties"]["pipeline"]["items"]
    assert (["kind"], "retry") == (items["required"], items["properties"]["kind"]["enum"][0])


def test_cli_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    """`reliant spec schema` prints the published text."""
    assert 0 == main(["spec", "schema"])
    assert PUBLISHED.read_text() == capsys.readouterr().out


def test_example_validates() -> None:
    """examples/reliant.yaml loads, and each document passes its kind's document model."""
    documents = load_paths([EXAMPLE])
    assert [
        ("Service", "payments"),
        ("Service", "recommendations"),
        ("Service", "storefront"),
        ("Policy", "payments-provider"),
        ("Policy", "recommendations-client"),
    ] == sorted(
        ((d.kind, d.name) for d in documents), key=lambda k: (list(KINDS).index(k[0]), k[1])
    )
    for doc in documents:
        assert doc.to_dict() == json.loads(
            DOCUMENT_MODELS[doc.kind].model_validate(doc.to_dict()).model_dump_json()
        )
