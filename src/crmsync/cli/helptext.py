"""Help that reads cleanly: flags without a `<bool>` type, arguments in usage lines as `NAME` /
`[NAME]...` (not `{name}`), each command's whole first sentence in the list of commands, for the app
and every subcommand and sub-app. Help is click's plain layout (`rich_markup_mode=None`): typer's
rich help formatter imports rich's Markdown and traceback renderers, ~0.45 s of `crmsync --help`.

`Group` is the main app's class (`typer.Typer(cls=Group)` in cli/__init__.py). Typer builds every
command as a plain `TyperCommand` and every sub-app as a `TyperGroup`; `Group.get_command` hands
them out as the tidy subclasses below, so modules that register commands need nothing special.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperGroup


def _tidy_params(params: list[Any]) -> list[Any]:
    """A flag (`--json`, `--yes`, `--help`) takes no value: show no type for it."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


def _usage(command: Any, ctx: Any) -> list[str]:
    """`[OPTIONS] COMPANY`, `[OPTIONS] [FILE]`, `[OPTIONS] [OVERRIDE_ID]...`: click's conventions."""
    pieces = [command.options_metavar] if command.options_metavar else []
    for param in command.get_params(ctx):
        if isinstance(param, TyperArgument):
            name = (param.metavar or param.name or "ARG").upper()
            name = name if param.required else f"[{name}]"
            pieces.append(name + ("..." if param.nargs != 1 else ""))
        else:
            pieces.extend(param.get_usage_pieces(ctx))
    return pieces


class Command(TyperCommand):
    """A command whose help shows no `<bool>` on flags and click-style argument names."""

    def get_params(self, ctx: Any) -> list[Any]:
        """The parameters, flags tidied."""
        return _tidy_params(super().get_params(ctx))

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        """The usage line's pieces, arguments click-style."""
        return _usage(self, ctx)


class Group(TyperGroup):
    """The app (and every sub-app): tidy help for itself and for each command it hands out."""

    def get_params(self, ctx: Any) -> list[Any]:
        """The parameters, flags tidied."""
        return _tidy_params(super().get_params(ctx))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The subcommand, as a tidy `Command` or `Group`."""
        command = super().get_command(ctx, cmd_name)
        if type(command) is TyperCommand:
            command.__class__ = Command
        elif type(command) is TyperGroup:
            command.__class__ = Group
        return command

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """Each command with its whole first sentence, wrapped (click cuts it at the width with `...`)."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=1_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
