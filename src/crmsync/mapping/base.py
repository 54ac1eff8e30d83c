"""The base mappings of `plan --base DIR_OR_GIT_REF`: another folder, or the mapping folder at a git ref.

A folder is loaded like the mappings in force. A git ref is read with `git ls-tree` and `git show`
(never by checking out: the work tree and index stay as they are), from the repository holding the
mapping folder and at the same path inside it; problems name `REF:path`. Called by the CLI's plan.
"""

from __future__ import annotations

import subprocess
from pathlib import Path, PurePosixPath

from crmsync.errors import ConfigError, MappingError, Problem
from crmsync.mapping.loader import SUFFIXES, load_mapping_text, load_mappings
from crmsync.mapping.rules import MappingFile, Mappings

GIT_TIMEOUT = 30.0  # seconds for one git command: a local object read takes milliseconds


def load_base(base: str, folder: Path) -> Mappings:
    """The base mapping set `base` names: a folder, else a git ref of the repository holding `folder`."""
    if Path(base).is_dir():
        return load_mappings(base)
    return load_at_ref(base, folder)


def load_at_ref(ref: str, folder: Path) -> Mappings:
    """Every *.yaml / *.yml file directly in `folder` as it is at git `ref`; all problems at once."""
    if ref.startswith("-"):  # never let a ref be read as an option of git
        raise ConfigError(f"--base {ref!r}: a folder or a git ref (branch, tag, commit) cannot start with '-'")
    top = _git(folder, "rev-parse", "--show-toplevel", what=f"--base {ref}: {folder} is not in a git repository")
    inside = PurePosixPath(Path(folder).resolve().relative_to(Path(top.strip()).resolve()).as_posix())
    prefix = "" if str(inside) == "." else f"{inside}/"
    commit = _git(folder, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}",
                  what=f"--base {ref}: neither a folder nor a git ref of {top.strip()}")  # fmt: skip
    listing = _git(folder, "ls-tree", "-z", "--full-tree", commit.strip(), "--", prefix or ".",
                   what=f"--base {ref}: cannot list {prefix or 'the repository root'} at {ref}")  # fmt: skip
    names = sorted(
        path for entry in listing.split("\0") if entry
        for meta, _, path in [entry.partition("\t")]
        if meta.split()[1] == "blob" and PurePosixPath(path).suffix.lower() in SUFFIXES
        and str(PurePosixPath(path).parent) == (str(inside) if prefix else ".")
    )  # fmt: skip
    shown = f"{ref}:{prefix}"
    if not names:
        hint = "give a ref where the mapping folder exists, or a folder"
        raise MappingError([Problem(shown, 1, 1, "no mapping files (*.yaml or *.yml) here at this ref", hint)])
    files: list[MappingFile] = []
    problems: list[Problem] = []
    for name in names:
        text = _git(folder, "show", f"{commit.strip()}:{name}", what=f"--base {ref}: cannot read {name}")
        try:
            files.append(load_mapping_text(text, f"{ref}:{name}"))
        except MappingError as exc:
            problems.extend(exc.problems)
    if problems:
        raise MappingError(problems)
    return Mappings(tuple(files))


def _git(folder: Path, *args: str, what: str) -> str:
    """One git command run in `folder`; its stdout, or ConfigError saying `what` and git's own words."""
    try:
        done = subprocess.run(  # a fixed argv, no shell; a ref is checked not to be an option
            ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=GIT_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"{what} (git could not run: {exc})") from exc
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or [""])[-1]
        raise ConfigError(f"{what}{f' (git: {said})' if said else ''}")
    return done.stdout
