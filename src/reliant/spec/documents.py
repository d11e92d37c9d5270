"""One ``reliant.yaml`` document: its envelope models per kind and the validated form.

A document is ``apiVersion``/``kind``/``metadata``/``spec``; :data:`DOCUMENT_MODELS` holds
one pydantic model of that envelope per kind of :data:`reliant.spec.models.KINDS` (in its
order), which both validation and the JSON Schema use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from reliant.spec.models import API_VERSION, KINDS, Metadata


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _document_model(kind: str, spec: type[BaseModel]) -> type[BaseModel]:
    # Literal of a runtime value: fine for pydantic, opaque to a type checker.
    version: Any = Literal[API_VERSION]
    this_kind: Any = Literal[kind]
    return create_model(
        f"{kind}Document",
        __base__=_Envelope,
        __doc__=f"A document of kind {kind}.",
        apiVersion=(version, Field(description="always " + API_VERSION)),
        kind=(this_kind, ...),
        metadata=(Metadata, ...),
        spec=(spec, ...),
    )


#: Kind → the model of a whole document of that kind, in ``KINDS`` order.
DOCUMENT_MODELS: dict[str, type[BaseModel]] = {
    kind: _document_model(kind, spec) for kind, spec in KINDS.items()
}


@dataclass(frozen=True, slots=True)
class Location:
    """Where a document came from: a file (or label) and the line it starts on."""

    source: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.source}:{self.line}" if self.line else self.source


@dataclass(frozen=True, slots=True)
class Document:
    """A validated document.

    Attributes:
        kind: one of ``KINDS``.
        name: ``metadata.name``.
        spec: the spec as ``model_dump(mode="json")``: every field, defaults filled in, so
            that two specs meaning the same thing compare equal.
        location: where it was declared, for messages.
    """

    kind: str
    name: str
    spec: dict[str, Any]
    location: Location | None = None

    def to_dict(self) -> dict[str, Any]:
        """The document as plain data, the way a file holds it."""
        return {
            "apiVersion": API_VERSION,
            "kind": self.kind,
            "metadata": {"name": self.name},
            "spec": self.spec,
        }


def compact(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A spec without the fields that hold their default value, as ``export`` writes it.

    Raises:
        KeyError: ``kind`` is not a known kind.
        pydantic.ValidationError: ``spec`` is not valid for ``kind``.
    """
    model = KINDS[kind].model_validate(spec)
    return model.model_dump(mode="json", exclude_defaults=True)


def document(kind: str, name: str, spec: dict[str, Any], *, full: bool = False) -> dict[str, Any]:
    """A document as plain data; its spec compacted unless ``full``."""
    body = spec if full else compact(kind, spec)
    return Document(kind, name, body).to_dict()
