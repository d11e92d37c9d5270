"""The editor's form: a postmortem as form values, and form values back into an edit.

Text sections are textareas; list sections are one item per line; action items and
timeline entries are rows of fields sent as repeated names (``ai_title``, ``tl_text``…),
so a plain form post carries them without JavaScript. Pure, no I/O.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from reliant.server.domains.postmortems.models import PostmortemRow
from reliant.server.domains.postmortems.schemas import LIST_SECTIONS, PostmortemIn

#: Textareas of the editor, in the SRE Book's order, with their labels.
TEXTS = (
    ("summary", "Summary"),
    ("impact", "Impact"),
    ("trigger", "Trigger"),
    ("resolution", "Resolution"),
    ("detection", "Detection"),
    ("supporting_information", "Supporting information"),
)
#: One-item-per-line sections and their labels.
LISTS = (
    ("root_causes", "Root causes and contributing factors"),
    ("went_well", "What went well"),
    ("went_wrong", "What went wrong"),
    ("got_lucky", "Where we got lucky"),
)
#: Fields of one action item row.
ITEM_FIELDS = ("title", "owner", "type", "priority", "due", "ticket", "done")
#: Form fields a browser may send at most (Starlette's limit), and what rows cost.
MAX_FIELDS = 1000
_FIXED_FIELDS = 40
_ENTRY_FIELDS = 3
#: Time format of timeline rows.
TIME_FORMAT = "%Y-%m-%d %H:%M:%SZ"


@dataclass(slots=True)
class EditForm:
    """The editor's values, as strings, as the form shows them."""

    version: int
    title: str
    due: str
    texts: dict[str, str]
    lists: dict[str, str]
    items: list[dict[str, str]]
    entries: list[dict[str, str]]
    timeline_editable: bool = True
    errors: list[str] = field(default_factory=list)

    def blank_item(self) -> dict[str, str]:
        """An empty action item row."""
        return {"title": "", "owner": "", "type": "process", "priority": "P2", "due": "",
                "ticket": "", "done": "no"}  # fmt: skip


def _time(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime(TIME_FORMAT)


def _entry(e: dict[str, Any]) -> dict[str, str]:
    meta = {k: e.get(k) for k in ("source", "kind", "pinned", "key")}
    return {"at": _time(float(e["at"])), "text": str(e["text"]), "meta": json.dumps(meta)}


def editable_timeline(entries: int, items: int) -> bool:
    """Whether the timeline's rows fit in one form post next to the action items."""
    used = _FIXED_FIELDS + _ENTRY_FIELDS * (entries + 1) + len(ITEM_FIELDS) * (items + 2)
    return used <= MAX_FIELDS


def from_row(row: PostmortemRow) -> EditForm:
    """The form of a stored postmortem."""
    items = [
        {
            "title": a.get("title", ""),
            "owner": a.get("owner") or "",
            "type": a.get("type", "process"),
            "priority": a.get("priority", "P2"),
            "due": a.get("due") or "",
            "ticket": a.get("ticket") or "",
            "done": "yes" if a.get("done") else "no",
        }
        for a in row.action_items
    ]
    return EditForm(
        version=row.version,
        title=row.title,
        due=row.due or "",
        texts={name: getattr(row, name) for name, _ in TEXTS},
        lists={name: "\n".join(getattr(row, name)) for name, _ in LISTS},
        items=items,
        entries=[_entry(e) for e in row.timeline],
        timeline_editable=editable_timeline(len(row.timeline), len(items)),
    )


def from_post(
    *,
    version: int,
    title: str,
    due: str,
    texts: dict[str, str],
    lists: dict[str, str],
    items: dict[str, list[str]],
    entries: dict[str, list[str]],
    timeline_editable: bool,
) -> EditForm:
    """The form as posted (rows zipped from the repeated fields)."""
    count = max((len(v) for v in items.values()), default=0)
    rows = [{name: _nth(items.get(name), i) for name in ITEM_FIELDS} for i in range(count)]
    n = len(entries.get("text", []))
    timeline = [{k: _nth(entries.get(k), i) for k in ("at", "text", "meta")} for i in range(n)]
    return EditForm(
        version=version,
        title=title,
        due=due,
        texts=texts,
        lists=lists,
        items=rows,
        entries=timeline,
        timeline_editable=timeline_editable,
    )


def _nth(values: list[str] | None, i: int) -> str:
    return values[i] if values is not None and i < len(values) else ""


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _at(text: str) -> float:
    value = text.strip()
    try:
        moment = dt.datetime.strptime(value, TIME_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"not a time: {text!r} (write it as 2027-01-15 08:02:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def to_edit(form: EditForm) -> PostmortemIn | None:
    """The edit a form stands for; ``None`` with ``form.errors`` set when it is invalid.

    Empty action item rows and timeline rows whose text was cleared are left out.
    """
    body: dict[str, Any] = {
        "version": form.version,
        "title": form.title.strip(),
        "due": form.due.strip() or None,
        **{name: form.texts.get(name, "") for name, _ in TEXTS},
        **{name: _lines(form.lists.get(name, "")) for name in LIST_SECTIONS},
    }
    items = []
    for row in form.items:
        if not any(row.get(k, "").strip() for k in ("title", "owner", "ticket", "due")):
            continue
        items.append(
            {
                "title": row.get("title", "").strip(),
                "owner": row.get("owner", "").strip(),
                "type": row.get("type", ""),
                "priority": row.get("priority", ""),
                "due": row.get("due", "").strip() or None,
                "ticket": row.get("ticket", "").strip() or None,
                "done": row.get("done") == "yes",
            }
        )
    body["action_items"] = items
    if form.timeline_editable:
        timeline = []
        for i, row in enumerate(form.entries):
            if not row.get("text", "").strip():
                continue
            try:
                at = _at(row.get("at", ""))
            except ValueError as exc:
                form.errors.append(f"timeline row {i + 1}: {exc}")
                continue
            meta = _meta(row.get("meta", ""))
            timeline.append({**meta, "at": at, "text": row["text"].strip()})
        body["timeline"] = timeline
    if form.errors:
        return None
    try:
        return PostmortemIn.model_validate(body)
    except ValidationError as exc:
        for e in exc.errors()[:10]:
            where = ".".join(str(p) for p in e["loc"]) or "form"
            form.errors.append(f"{where}: {str(e['msg']).removeprefix('Value error, ')}")
        return None


def _meta(text: str) -> dict[str, Any]:
    """The kept source, kind, pin and key of a timeline row (``manual`` for new rows)."""
    try:
        meta = json.loads(text) if text else {}
    except ValueError:
        meta = {}
    if not isinstance(meta, dict):
        meta = {}
    return {
        "source": str(meta.get("source") or "manual")[:100],
        "kind": str(meta.get("kind") or "")[:100],
        "pinned": bool(meta.get("pinned")),
        "key": None if meta.get("key") is None else str(meta["key"])[:100],
    }
