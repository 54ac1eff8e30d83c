"""Loopback emulators of the APIs crmsync talks to, with sample data.

`Sandbox` serves the HubSpot and Schematic emulators on free loopback ports, seeded from
`load_data(path)` (the bundled `sample_data_path()` by default). Used by tests, `demo`, rehearsals.
"""

from crmsync.sandbox.data import SandboxData, load_data, parse_data, sample_data_path
from crmsync.sandbox.hubspot import HubSpotState
from crmsync.sandbox.runner import Sandbox
from crmsync.sandbox.schematic import SchematicState

__all__ = ["HubSpotState", "Sandbox", "SandboxData", "SchematicState", "load_data", "parse_data", "sample_data_path"]
