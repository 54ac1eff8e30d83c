"""`plan --base REF` reads the mapping folder as it is at a git ref: every file in one git read (not
one `git show` per file), the same rules as loading the folder itself, and the same clear errors."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from crmsync.cli.demo import sample_mappings
from crmsync.errors import ConfigError, MappingError
from crmsync.mapping.base import load_at_ref
from crmsync.mapping.loader import load_mappings
from crmsync.mapping.rules import Mappings

IDENTITY = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip


def git(repo: Path, *args: str) -> None:
    """Run git in the test's own repository, with a fixed identity."""
    env = {**IDENTITY, "PATH": "/usr/bin:/bin", "HOME": str(repo)}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository whose `mappings/` holds the sample files, a third copy written with CRLF line ends,
    a file whose name needs quoting, and a non-mapping file; all committed on `main`."""
    repo = tmp_path / "repo"
    shutil.copytree(sample_mappings(), repo / "mappings")
    hubspot = (repo / "mappings" / "hubspot.yaml").read_bytes()
    (repo / "mappings" / "windows crlf.yml").write_bytes(hubspot.replace(b"\n", b"\r\n"))
    (repo / "mappings" / "README.md").write_text("not a mapping\n")
    (repo / "mappings" / "nested").mkdir()
    (repo / "mappings" / "nested" / "ignored.yaml").write_bytes(hubspot)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    return repo


@pytest.fixture
def git_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A file naming the subcommand of each git command crmsync runs from now on: a logging `git` on
    PATH that then runs the real one."""
    real = shutil.which("git")
    assert real is not None
    shim = tmp_path / "bin"
    shim.mkdir()
    log = tmp_path / "git.log"
    script = shim / "git"
    script.write_text(f'#!/bin/sh\nfor a; do case "$a" in -C) skip=1;; *) if [ -n "$skip" ]; then skip=; else '
                      f'echo "$a" >> "{log}"; break; fi;; esac; done\nexec "{real}" "$@"\n')  # fmt: skip
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{shim}:/usr/bin:/bin")
    return log


def taken(log: Path) -> list[str]:
    """The git subcommands logged so far, and a fresh log for what follows."""
    calls = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return calls


def rules(maps: Mappings) -> list[tuple[str, str, int, int, str]]:
    """Each rule's file name, feature and position, without the folder or ref the path starts with."""
    return [(Path(f.path.rpartition(":")[2] if ":" in f.path else f.path).name, r.feature, r.position.line,
             r.position.col, r.value_type.value) for f in maps.files for r in f.overrides]  # fmt: skip


def test_all_files_at_a_ref_are_read_in_one_git_call(repo: Path, git_log: Path) -> None:
    """Three files or one, the ref costs the same few git commands: one read for all files, no `git show`."""
    load_at_ref("main", repo / "mappings")
    many = taken(git_log)
    for extra in ("windows crlf.yml", "salesforce.yaml"):
        git(repo, "rm", "-q", f"mappings/{extra}")
    git(repo, "commit", "-q", "-m", "fewer")
    taken(git_log)
    load_at_ref("main", repo / "mappings")
    few = taken(git_log)
    assert "show" not in many and many.count("cat-file") == 1
    assert len(many) == len(few) == 4, (many, few)


def test_a_ref_gives_the_same_rules_as_the_folder(repo: Path) -> None:
    """The ref's files give the rules the folder's own files give, CRLF included; paths name `REF:path`."""
    at_ref = load_at_ref("main", repo / "mappings")
    assert rules(at_ref) == rules(load_mappings(repo / "mappings"))
    assert [f.path for f in at_ref.files] == ["main:mappings/hubspot.yaml", "main:mappings/salesforce.yaml",
                                              "main:mappings/windows crlf.yml"]  # fmt: skip


def test_a_missing_ref_is_one_clear_line(repo: Path) -> None:
    """A ref that does not exist: a ConfigError (exit 2) naming the ref, in one line."""
    with pytest.raises(ConfigError, match="neither a folder nor a git ref") as caught:
        load_at_ref("no-such-branch", repo / "mappings")
    assert caught.value.exit_code == 2 and "\n" not in str(caught.value)


def test_a_broken_file_at_the_ref_is_located_there(repo: Path) -> None:
    """A file that does not parse at the ref is a MappingError at `REF:path:line:col`."""
    (repo / "mappings" / "hubspot.yaml").write_text("source: hubspot\ndeals: [\n")
    git(repo, "commit", "-q", "-am", "broken")
    with pytest.raises(MappingError) as caught:
        load_at_ref("HEAD", repo / "mappings")
    assert all(str(p).startswith("HEAD:mappings/hubspot.yaml:") for p in caught.value.problems)
