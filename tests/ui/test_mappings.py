"""The Mappings page: the files in force with their status and test results, and the editor — a
typo is shown inline at its line and column, a valid edit runs the test cases, the file comes back
as a download, and no mapping file is ever written."""

from __future__ import annotations

from pathlib import Path

import httpx

from crmsync.cli.demo import sample_mappings

SEATS_RULE = "    type: numeric\n    from: seats_purchased"
TYPO = (sample_mappings() / "hubspot.yaml").read_text().replace(SEATS_RULE, SEATS_RULE.replace("type:", "typ:"))


def listing(folder: Path) -> dict[str, float]:
    """Every file below `folder` and when it was last written."""
    return {str(p): p.stat().st_mtime for p in folder.rglob("*")}


def test_the_files_in_force_show_their_status_and_test_cases(viewer: httpx.Client) -> None:
    """Both sample files are valid and the sample's test cases pass."""
    page = viewer.get("/mappings").text
    assert page.count("Valid</span>") == 2 and "Passed" in page and "Failed" not in page


def test_a_typo_is_shown_at_its_line_and_column(viewer: httpx.Client) -> None:
    """The misspelt key is reported inline, under the line it is on, with file:line:col."""
    before = listing(sample_mappings())
    page = viewer.post("/mappings/check", data={"name": "hubspot.yaml", "text": TYPO}).text
    line = TYPO.splitlines().index("    typ: numeric") + 1
    assert f"hubspot.yaml:{line}:5</span>" in page and "typ" in page
    problem_at = page.index('class="problem"')
    assert page.rindex("typ: numeric", 0, problem_at) > page.rindex("<li>", 0, problem_at)  # inline, under its line
    assert listing(sample_mappings()) == before  # nothing written


def test_a_valid_edit_runs_the_test_cases_with_it(viewer: httpx.Client) -> None:
    """Dropping the seats rule is valid YAML, and the sample's cases that expect seats now fail."""
    text = (sample_mappings() / "hubspot.yaml").read_text()
    edited = text.replace("  - feature: seats\n    type: numeric\n    from: seats_purchased\n", "")
    page = viewer.post("/mappings/check", data={"name": "hubspot.yaml", "text": edited}).text
    checked = page[page.index('id="result"') :]
    assert "Valid</span>" in checked and "Failed</span>" in checked


def test_the_edited_file_comes_back_as_a_download(viewer: httpx.Client) -> None:
    """The exact text, as an attachment named like the file (a path in the name is dropped)."""
    answer = viewer.post("/mappings/download", data={"name": "../../etc/hubspot.yaml", "text": TYPO})
    assert answer.status_code == 200 and answer.text == TYPO
    assert answer.headers["content-disposition"] == 'attachment; filename="hubspot.yaml"'
