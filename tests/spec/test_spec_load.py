"""Loading reliant.yaml: documents, directories, and every problem as file:line: path: hint."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from reliant.spec.documents import Document, Location, compact, document
from reliant.spec.load import SpecError, expand, load_paths, load_text, validate_all
from reliant.spec.models import ServiceSpec

SERVICE = """\
apiVersion: reliant.dev/v1
kind: Service
metadata:
  name: {name}
spec:
  owner: team-a
"""
POLICY = """\
apiVersion: reliant.dev/v1
kind: Policy
metadata: {{name: {name}}}
spec:
  service: payments
  pipeline:
    - {{kind: timeout, seconds: 2s}}
    - kind: retry
      attempts: {attempts}
"""


def problems(tmp_path: Path, text: str, name: str = "reliant.yaml") -> list[str]:
    """The problems of one file, with its directory stripped from the messages."""
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(SpecError) as caught:
        load_paths([path])
    return [p.replace(f"{tmp_path}/", "") for p in caught.value.problems]


def test_documents_of_one_file_in_order_with_defaults_filled(tmp_path: Path) -> None:
    """Documents come back in file order, specs normalised with every default."""
    path = tmp_path / "r.yaml"
    path.write_text(SERVICE.format(name="web") + "---\n" + POLICY.format(name="p", attempts=3))
    docs = load_paths([path])
    assert [("Service", "web"), ("Policy", "p")] == [(d.kind, d.name) for d in docs]
    assert ServiceSpec(owner="team-a").model_dump(mode="json") == docs[0].spec
    assert Location(str(path), 1) == docs[0].location
    assert Location(str(path), 8) == docs[1].location


def test_empty_documents_are_skipped(tmp_path: Path) -> None:
    """A leading or trailing `---` (an empty document) is not an error."""
    path = tmp_path / "r.yaml"
    path.write_text("---\n" + SERVICE.format(name="web") + "---\n---\n")
    assert ["web"] == [d.name for d in load_paths([path])]


def test_directories_stand_for_their_yaml_files_sorted(tmp_path: Path) -> None:
    """A directory expands to its *.yaml and *.yml files, recursively, sorted."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.yaml").write_text(SERVICE.format(name="b"))
    (tmp_path / "sub" / "a.yml").write_text(SERVICE.format(name="a"))
    (tmp_path / "notes.txt").write_text("not yaml")
    seen: list[Path] = []
    docs = load_paths([tmp_path], on_file=seen.append)
    assert ["b", "a"] == [d.name for d in docs]
    assert [tmp_path / "b.yaml", tmp_path / "sub" / "a.yml"] == seen


def test_missing_paths_and_empty_directories_are_reported(tmp_path: Path) -> None:
    """Every path that names nothing loadable is one problem."""
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpecError) as caught:
        expand([tmp_path / "nope.yaml", tmp_path / "empty"])
    assert [
        f"{tmp_path}/nope.yaml: no such file or directory",
        f"{tmp_path}/empty: no *.yaml or *.yml file in this directory",
    ] == caught.value.problems


def test_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    """`-` reads standard input, named <stdin> in messages."""
    monkeypatch.setattr("sys.stdin", io.StringIO(SERVICE.format(name="web")))
    (doc,) = load_paths(["-"])
    assert ("web", "<stdin>:1") == (doc.name, str(doc.location))


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    """YAML that does not parse is reported with its line."""
    text = SERVICE.format(name="web") + "  tier: [1\n"
    assert [
        "reliant.yaml:8: not valid YAML: expected ',' or ']', but got '<stream end>'"
    ] == problems(tmp_path, text)


def test_unknown_kind_lists_the_known_ones(tmp_path: Path) -> None:
    """An unknown kind is reported on its line, with a guess and the known kinds."""
    text = SERVICE.format(name="web").replace("kind: Service", "kind: Servise")
    assert [
        "reliant.yaml:2: kind: unknown kind 'Servise'; did you mean 'Service'? "
        "(known kinds: Service, Policy, SLO, AlertRoute, Schedule, EscalationPolicy, "
        "IncidentRule, Runbook, ErrorBudgetPolicy)"
    ] == problems(tmp_path, text)


def test_missing_kind_and_non_mapping_documents(tmp_path: Path) -> None:
    """A document without kind, or not a mapping at all, says what a document is."""
    text = "apiVersion: reliant.dev/v1\nmetadata: {name: x}\n---\n- a list\n"
    assert [
        "reliant.yaml:1: missing required key 'kind' (one of: Service, Policy, SLO, AlertRoute, "
        "Schedule, EscalationPolicy, IncidentRule, Runbook, ErrorBudgetPolicy)",
        "reliant.yaml:4: a document is a mapping with apiVersion, kind, metadata and spec, "
        "not list",
    ] == problems(tmp_path, text)


def test_missing_field_points_at_the_spec(tmp_path: Path) -> None:
    """A missing required field is reported on the line of its parent mapping."""
    text = SERVICE.format(name="web").replace("  owner: team-a\n", "  tier: 2\n")
    assert ["reliant.yaml:5: Service web: spec: missing required key 'owner'"] == problems(
        tmp_path, text
    )


def test_unknown_field_suggests_the_closest(tmp_path: Path) -> None:
    """An unknown key gets a 'did you mean' and the keys allowed there."""
    text = SERVICE.format(name="web") + "  owners: x\n"
    assert [
        "reliant.yaml:7: Service web: spec.owners: unknown key; did you mean 'owner'? "
        "(allowed here: owner, tier, environment, description, links, dependencies, labels)"
    ] == problems(tmp_path, text)


def test_bad_pipeline_option_has_its_path_into_the_pipeline(tmp_path: Path) -> None:
    """The registry's complaint is placed on the offending option's own line."""
    assert [
        "reliant.yaml:9: Policy p: spec.pipeline[1].attempts: "
        "Retry: attempts must be an integer >= 1, got 0"
    ] == problems(tmp_path, POLICY.format(name="p", attempts=0))


def test_names_urls_and_api_version_get_hints(tmp_path: Path) -> None:
    """Pattern mismatches say what is allowed, not the regex; apiVersion says its value."""
    text = (
        SERVICE.format(name="Web_1")
        .replace("reliant.dev/v1", "v1")
        .replace("owner: team-a", "owner: a\n  links: [{title: t, url: 'ftp://x'}]")
    )
    assert [
        "reliant.yaml:1: Service Web_1: apiVersion: use apiVersion: reliant.dev/v1, got 'v1'",
        "reliant.yaml:4: Service Web_1: metadata.name: should be a name of lowercase letters, "
        "digits, '.', '-' and '_', starting and ending alphanumeric, got 'Web_1'",
        "reliant.yaml:7: Service Web_1: spec.links[0].url: should be an http:// or https:// "
        "URL without spaces, got 'ftp://x'",
    ] == problems(tmp_path, text)


def test_duplicate_yaml_keys_are_errors(tmp_path: Path) -> None:
    """A key given twice in one mapping is reported rather than silently dropped."""
    text = SERVICE.format(name="web") + "  owner: team-b\n"
    assert [
        "reliant.yaml:7: duplicate key 'owner' (first given on line 6); "
        "YAML would silently keep only the last"
    ] == problems(tmp_path, text)


def test_duplicate_names_across_files_name_both_places(tmp_path: Path) -> None:
    """The same kind and name in two files is one problem naming both."""
    (tmp_path / "a.yaml").write_text(SERVICE.format(name="web"))
    (tmp_path / "b.yaml").write_text(
        POLICY.format(name="web", attempts=2) + "---\n" + SERVICE.format(name="web")
    )
    with pytest.raises(SpecError) as caught:
        load_paths([tmp_path / "a.yaml", tmp_path / "b.yaml"])
    assert [
        f"{tmp_path}/b.yaml:11: Service web is declared twice: first at {tmp_path}/a.yaml:1; "
        "keep one of them"
    ] == caught.value.problems


def test_every_file_is_checked_before_failing(tmp_path: Path) -> None:
    """Problems of several files and documents are all reported, in file order."""
    (tmp_path / "a.yaml").write_text("kind: Nope\n")
    (tmp_path / "b.yaml").write_text(SERVICE.format(name="ok") + "---\n" + "kind: [x]\n")
    with pytest.raises(SpecError) as caught:
        load_paths([tmp_path])
    known = (
        "(known kinds: Service, Policy, SLO, AlertRoute, Schedule, EscalationPolicy, "
        "IncidentRule, Runbook, ErrorBudgetPolicy)"
    )
    assert [
        f"{tmp_path}/a.yaml:1: kind: unknown kind 'Nope' {known}",
        f"{tmp_path}/b.yaml:8: kind: unknown kind ['x'] {known}",
    ] == caught.value.problems


def test_plain_data_is_validated_with_list_positions() -> None:
    """API bodies carry no lines: problems name the document's position instead."""
    good = document("Service", "web", {"owner": "a"})
    with pytest.raises(SpecError) as caught:
        validate_all([good, {**good, "spec": {"owner": "a", "tier": 9}}, "x", good])
    assert [
        "documents[1]: Service web: spec.tier: should be less than or equal to 4, got 9",
        "documents[2]: a document is a mapping with apiVersion, kind, metadata and spec, not str",
        "documents[3]: Service web is declared twice: first at documents[0]; keep one of them",
    ] == caught.value.problems


def test_text_loader_reports_its_source_label() -> None:
    """load_text names problems after the label it is given."""
    with pytest.raises(SpecError) as caught:
        load_text("kind: Policy\napiVersion: reliant.dev/v1\nmetadata: {name: p}\n", "inline")
    assert ["inline:1: Policy p: missing required key 'spec'"] == caught.value.problems


def test_compact_documents_round_trip() -> None:
    """An exported (compacted) document validates back to the same normalised spec."""
    full = ServiceSpec(owner="a", tier=1, labels={"k": "v"}).model_dump(mode="json")
    assert {"owner": "a", "tier": 1, "labels": {"k": "v"}} == compact("Service", full)
    (doc,) = validate_all([document("Service", "web", full)])
    assert Document("Service", "web", full, Location("documents[0]")) == doc


def test_policy_validation_imports_nothing() -> None:
    """Validating a Policy never imports a module its pipeline names (specs may be hostile)."""
    import sys

    from reliant.spec.models import PolicySpec

    sys.modules.pop("antigravity", None)
    PolicySpec(service="a", pipeline=[{"kind": "retry", "retry_on": ["antigravity:Boom"]}])
    assert "antigravity" not in sys.modules
