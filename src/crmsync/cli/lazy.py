"""The service functions the command bodies in cli/__init__.py call, imported on first call.

`crmsync --help`, `--version` and `validate --offline` must start fast (bench/startup.py): importing
the state store (sqlmodel/sqlalchemy), the CRM SDKs and httpx costs seconds, so nothing on the
command-line's import path imports them; these shims do, when a command runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crmsync.mapping.rules import Mappings
    from crmsync.reconcile.notices import PlanWarning
    from crmsync.service.context import Context
    from crmsync.settings import Settings


def load_mappings(folder: Path) -> Mappings:
    """crmsync.mapping.loader.load_mappings."""
    from crmsync.mapping.loader import load_mappings as load

    return load(folder)


def check_offline(folder: Path) -> Mappings:
    """The files alone (`validate --offline`): each loads, and rules for one feature agree across files."""
    from crmsync.errors import MappingError
    from crmsync.mapping.check import check_offline as disagreements

    maps = load_mappings(folder)
    problems = disagreements(maps)
    if problems:
        raise MappingError(problems)
    return maps


def check_online(settings: Settings, folder: Path) -> tuple[Mappings, tuple[PlanWarning, ...]]:
    """crmsync.app.check_online (`validate` against Schematic and the CRMs)."""
    from crmsync.app import check_online as check

    return check(settings, folder)


@contextmanager
def base_context(
    folder: Path | None, base: str, settings: Settings | None = None
) -> Iterator[tuple[Context, Mappings, Mappings]]:
    """crmsync.app.base_context (`plan --base`), with this command's settings unless given."""
    from crmsync.app import base_context as opened
    from crmsync.cli import session

    with opened(folder, base, settings or session.settings()) as triple:
        yield triple


@contextmanager
def mapped_context(folder: Path | None, settings: Settings | None = None) -> Iterator[tuple[Context, Mappings]]:
    """crmsync.app.mapped_context, with this command's settings unless given."""
    from crmsync.app import mapped_context as opened
    from crmsync.cli import session

    with opened(folder, settings or session.settings()) as pair:
        yield pair
