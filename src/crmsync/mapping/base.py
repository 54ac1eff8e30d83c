"""The base mappings of `plan --base DIR_OR_GIT_REF`: another folder, or the mapping folder at a git ref.

A folder is loaded like the mappings in force. A git ref is read with `git ls-tree` and one
`git cat-file --batch` for all its mapping files (never by checking out: the work tree and index stay
as they are), from the repository holding the mapping folder and at the same path inside it;
problems name `REF:path`. Called by the CLI's plan.
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
    blobs = sorted(
        (path, meta.split()[2]) for entry in listing.split("\0") if entry
        for meta, _, path in [entry.partition("\t")]
        if meta.split()[1] == "blob" and PurePosixPath(path).suffix.lower() in SUFFIXES
        and str(PurePosixPath(path).parent) == (str(inside) if prefix else ".")
    )  # fmt: skip
    shown = f"{ref}:{prefix}"
    if not blobs:
        hint = "give a ref where the mapping folder exists, or a folder"
        raise MappingError([Problem(shown, 1, 1, "no mapping files (*.yaml or *.yml) here at this ref", hint)])
    texts = _blobs(folder, [oid for _, oid in blobs], what=f"--base {ref}: cannot read {shown}")
    files: list[MappingFile] = []
    problems: list[Problem] = []
    for (name, _), text in zip(blobs, texts, strict=True):
        try:
            files.append(load_mapping_text(text, f"{ref}:{name}"))
        except MappingError as exc:
            problems.extend(exc.problems)
    if problems:
        raise MappingError(problems)
    return Mappings(tuple(files))


def _blobs(folder: Path, oids: list[str], *, what: str) -> list[bytes]:
    """The contents of the blobs `oids`, in order, from one `git cat-file --batch` (by object id, so a
    file name never has to survive git's line-based input); ConfigError saying `what` if one is missing."""
    out = _run(folder, ["cat-file", "--batch"], what=what, stdin="".join(f"{oid}\n" for oid in oids).encode())
    contents: list[bytes] = []
    at = 0
    for oid in oids:
        end = out.find(b"\n", at)
        header = out[at:end].decode(errors="replace").split() if end >= 0 else []
        if len(header) != 3 or header[1] != "blob" or not header[2].isdigit():  # `<oid> missing`, or cut short
            raise ConfigError(f"{what} (git: object {oid} {' '.join(header[1:]) or 'not returned'})")
        size = int(header[2])
        contents.append(out[end + 1 : end + 1 + size])
        at = end + 1 + size + 1  # the content is followed by one newline
    return contents


def _git(folder: Path, *args: str, what: str) -> str:
    """One git command run in `folder`; its stdout, or ConfigError saying `what` and git's own words."""
    return _run(folder, list(args), what=what).decode(errors="replace")


def _run(folder: Path, args: list[str], *, what: str, stdin: bytes | None = None) -> bytes:
    """`git -C folder ARGS` fed `stdin`; its stdout as bytes, or ConfigError saying `what` and git's words."""
    try:
        done = subprocess.run(  # a fixed argv, no shell; a ref is checked not to be an option
            ["git", "-C", str(folder), *args], input=stdin, capture_output=True, timeout=GIT_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError(f"{what} (git could not run: {exc})") from exc
    if done.returncode != 0:
        said = (done.stderr.decode(errors="replace").strip().splitlines() or [""])[-1]
        raise ConfigError(f"{what}{f' (git: {said})' if said else ''}")
    return done.stdout
