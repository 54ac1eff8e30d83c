"""What the command modules share: the `--mappings`, `--company` and `--json` options and the type of
`guarded` (cli/__init__.py), which the modules that register commands (cli/revops.py, …) are handed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

Guard = Callable[[Callable[[], int]], None]
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
JsonLinesOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of lines.")]
