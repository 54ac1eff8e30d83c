"""The connectors of the sources the mappings in force read, for `crmsync serve`: a reload that adds or
drops a source swaps the whole set at once (serving/mapping_watch.py, app.py `_reload_check`), so a run
iterating it sees either the old set or the new one, never a half-changed dict.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, Mapping, ValuesView

from crmsync.connectors.base import Connector
from crmsync.domain import Source


class ConnectorSet(Mapping[Source, Connector]):
    """The connectors of the sources the mappings in force read; a reload swaps the whole set at once,
    so a run iterating it sees either the old set or the new one, never a half-changed dict."""

    def __init__(self, connectors: Mapping[Source, Connector]) -> None:
        self._current = dict(connectors)

    def __getitem__(self, source: Source) -> Connector:
        return self._current[source]

    def __iter__(self) -> Iterator[Source]:
        return iter(tuple(self._current))

    def __len__(self) -> int:
        return len(self._current)

    def items(self) -> ItemsView[Source, Connector]:
        """The pairs of one set (a swap meanwhile cannot make a key vanish mid-iteration)."""
        return self._current.items()

    def values(self) -> ValuesView[Connector]:
        """The connectors of one set."""
        return self._current.values()

    def replace(self, connectors: Mapping[Source, Connector]) -> None:
        """Put `connectors` in force."""
        self._current = dict(connectors)
