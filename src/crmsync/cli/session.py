"""This command's settings, loaded once per invocation and shared by every part of the command.

settings.py reads the environment; the CLI asks here, so one command never loads them twice (serve,
`plan --out`, `release` each did). The root callback calls `reset()` for every invocation: tests run
many commands in one process, each with its own environment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crmsync import redaction

if TYPE_CHECKING:
    from crmsync.settings import Settings

_loaded: Settings | None = None


def reset() -> None:
    """Forget the settings of the previous invocation."""
    global _loaded
    _loaded = None


def settings() -> Settings:
    """The settings of this invocation, loaded from the environment at the first call (ConfigError
    when the config file or a variable is bad; the command's `guarded` reports it). Their secret
    values are masked in every output from then on (nothing before it has read a secret)."""
    global _loaded
    if _loaded is None:
        from crmsync.settings import load_settings  # imported at use: `--help` must start fast

        _loaded = load_settings()
        redaction.configure(_loaded.secrets)
    return _loaded
