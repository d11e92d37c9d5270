"""The JSON Schema of one ``reliant.yaml`` document, generated from the kinds' models.

Published as ``docs/reliant.schema.json`` (a test keeps it equal to :func:`generate`) and
printed by ``reliant spec schema``. Editors that speak JSON Schema (e.g. the YAML language
server) apply it to each document of a multi-document file::

    # yaml-language-server: $schema=https://reliant.dev/schema/reliant.schema.json
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter

from reliant.spec.documents import DOCUMENT_MODELS

SCHEMA_ID = "https://reliant.dev/schema/reliant.schema.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def generate() -> dict[str, Any]:
    """The schema: a ``oneOf`` over the kinds' documents, discriminated by ``kind``."""
    from reliant.resilience.registry import KINDS as POLICY_KINDS

    models = tuple(DOCUMENT_MODELS.values())
    union: Any = Annotated[Union[models], Field(discriminator="kind")]  # noqa: UP007
    body = TypeAdapter(union).json_schema()
    # A pipeline entry is free-form for pydantic (the registry checks it); say at least
    # what an editor can complete: the policy kinds.
    pipeline = body["$defs"]["PolicySpec"]["properties"]["pipeline"]
    pipeline["items"] = {
        "type": "object",
        "required": ["kind"],
        "properties": {"kind": {"enum": list(POLICY_KINDS), "type": "string"}},
        "additionalProperties": True,
    }
    return {
        "$schema": DIALECT,
        "$id": SCHEMA_ID,
        "title": "reliant.yaml document",
        "description": (
            "One document of reliant.yaml: apiVersion, kind, metadata.name and the kind's spec. "
            "Generated from reliant.spec.models; do not edit."
        ),
        **body,
    }


def dumps() -> str:
    """The schema as the published file's text (sorted keys, two-space indent, newline)."""
    return json.dumps(generate(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
