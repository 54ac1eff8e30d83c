"""What the command modules share: the `--mappings`, `--company` and `--json` options and the types of
`guarded` (cli/__init__.py), which the modules that register commands (cli/revops.py, …) are handed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Protocol

import typer

Guard = Callable[[Callable[[], int]], None]


class ExitGuard(Protocol):
    """`guarded` with its `error_code` (`plan --detailed-exitcode` makes every error exit 1)."""

    def __call__(self, action: Callable[[], int], *, error_code: int | None = None) -> None: ...


MappingsOption = Annotated[
    Path | None, typer.Option("--mappings", help="Mapping folder (default: CRMSYNC_MAPPINGS or mappings/).")
]
CompaniesOption = Annotated[
    list[str] | None,
    typer.Option(
        "--company",
        metavar="COMPANY",
        help="Only this company: a Schematic id (comp_…) or a key, e.g. hubspot_company_id=5001. Repeatable; "
        "the guards judge the scoped plan.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")]
JsonLinesOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of lines.")]
