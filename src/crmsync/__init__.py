"""crmsync: Schematic company overrides that follow CRM deals."""
