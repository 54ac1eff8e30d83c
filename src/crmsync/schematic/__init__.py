"""crmsync.schematic."""
