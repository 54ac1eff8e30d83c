"""The console's views: one module per group of pages; each view reads through the service (in a
thread) and renders a template. Actions are GET-confirm, POST-act, 303-redirect."""
