"""`reliant validate` offline; invalid files stop plan and apply before any request."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliant.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "reliant.yaml"
#: A URL nothing listens on: reaching it would fail the test with exit 1, not 2.
NOWHERE = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def no_saved_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands see neither a saved login nor RELIANT_* variables."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("RELIANT_URL", raising=False)
    monkeypatch.delenv("RELIANT_TOKEN", raising=False)


def bad_file(tmp_path: Path) -> Path:
    """A file with one problem on line 5."""
    path = tmp_path / "bad.yaml"
    path.write_text(
        "apiVersion: reliant.dev/v1\nkind: Service\nmetadata: {name: web}\nspec:\n  tier: 1\n"
    )
    return path


def test_validate_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    """A valid file prints a one-line summary by kind and exits 0."""
    assert 0 == main(["validate", str(EXAMPLE)])
    assert "OK: 5 documents (3 Service, 2 Policy)\n" == capsys.readouterr().out


def test_validate_reports_problems_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each problem goes to stderr as file:line: object: path: message; exit code 2."""
    path = bad_file(tmp_path)
    assert 2 == main(["spec", "validate", str(path)])
    assert [
        f"{path}:4: Service web: spec: missing required key 'owner'",
        "reliant: 1 problem",
    ] == capsys.readouterr().err.splitlines()


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["plan"], 2),
        (["plan", "--detailed-exitcode"], 1),
        (["apply", "--yes"], 2),
    ],
)
def test_plan_and_apply_stop_at_invalid_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], code: int
) -> None:
    """Invalid files are never sent: exit 2 (1 with --detailed-exitcode, where 2 means changes)."""
    path = bad_file(tmp_path)
    assert code == main([*argv, str(path), "--url", NOWHERE, "--token", "t"])
    assert (
        "reliant: 1 problem; nothing was sent to the server"
        == capsys.readouterr().err.splitlines()[-1]
    )


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A path that does not exist is reported like any other problem."""
    assert 2 == main(["validate", str(tmp_path / "nope.yaml")])
    assert (
        f"{tmp_path}/nope.yaml: no such file or directory"
        == capsys.readouterr().err.splitlines()[0]
    )


def test_validate_warns_about_slos_that_cannot_alert(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A valid SLO whose page alert can never fire: OK (exit 0), and a warning on stderr
    naming the file, line, SLO and warning code."""
    path = tmp_path / "reliant.yaml"
    path.write_text(
        "apiVersion: reliant.dev/v1\nkind: SLO\nmetadata: {name: low}\nspec:\n"
        "  service: checkout\n  objective: 90\n  sli: {ratio: {operation: charge}}\n"
    )
    assert 0 == main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert "OK: 1 document (1 SLO)\n" == out
    assert err.startswith(f"{path}:1: SLO low: warning [never_fires]: page 1h/5m: burn rate 14.4")
