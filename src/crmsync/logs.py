"""Structured logs: structlog over the standard library, to stderr, with secrets scrubbed.

`configure_logging` is called once per process, by the CLI callback (`serve` included). Edges and
the service take a logger from `get_logger` and emit the events named below; the pure core never
logs. Library logs (urllib3, httpx, …) pass through the same formatter and the same scrubbing.

Events (the `event` field): `run.started` / `run.finished` and `change` (log_events.py),
`api.retry` (a request retried: service, method, path, status, attempt, wait_s), `api.relogin`,
`api.rate_limited`, `rate.wait` (a rate budget made a caller wait: budget, wait_s) and
`rate.shared_unavailable` (pacing this process alone). The README's Logs section lists their fields.

It sits in its own layer below the edges and above the pure core, so every edge, the service and
the CLI may import it and `mapping`/`reconcile` may not: writing to stderr is I/O.

structlog is imported on first use, not with this module: `import structlog` pulls its console
renderer's rich tracebacks and pygments (~0.2 s, ~13 MiB), which commands that never log (`--help`,
`validate --offline`) and runs whose events are all below the level (a plan at `warning`) must not
pay (bench/startup.py, bench/memory.py). `configure_logging` installs the stderr
handler at once and configures structlog when the first logger is taken (or at once if structlog
is already loaded).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import TYPE_CHECKING, Any, Literal, TextIO

from crmsync import redaction
from crmsync.safe_text import shown

if TYPE_CHECKING:
    from structlog.typing import EventDict, Processor, WrappedLogger


LogFormat = Literal["console", "json"]
FORMATS: tuple[LogFormat, ...] = ("console", "json")
LEVELS = ("debug", "info", "warning", "error")
# One INFO line per request, URL and all (httpx), per scheduler tick (apscheduler), seven per start
# (alembic's "Context impl …", "Will assume …"): WARNING and up only.
NOISY = ("httpx", "httpcore", "hpack", "apscheduler", "alembic")

_handler_tag = "crmsync"
_pending = False  # configure_logging ran before structlog was loaded: configure it on the first logger


# --- secrets ---------------------------------------------------------------------------------


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: secret-bearing keys masked, secret values and URL passwords scrubbed."""
    for key, value in list(event_dict.items()):
        if key.startswith("_"):  # structlog's own bookkeeping (the record, the logger)
            continue
        event_dict[key] = redaction.clean(value, None if key == "event" else key)
    return event_dict


# --- configuration ---------------------------------------------------------------------------


class _Stderr(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is at the time (test runners swap it per invocation)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def _shared() -> list[Processor]:
    import structlog

    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


class _Formatter(logging.Formatter):
    """structlog's ProcessorFormatter for every line on our handler, built at the first line."""

    def __init__(self, log_format: LogFormat | str, colors: bool) -> None:
        super().__init__()
        self._format, self._colors = log_format, colors
        self._inner: logging.Formatter | None = None

    def format(self, record: logging.LogRecord) -> str:
        """The record as one console or JSON line, tracebacks included, secrets scrubbed."""
        if self._inner is None:
            self._inner = _processor_formatter(self._format, self._colors)
        return self._inner.format(record)


def _processor_formatter(log_format: LogFormat | str, colors: bool) -> logging.Formatter:
    import structlog

    renderer: Processor = (
        structlog.processors.JSONRenderer(sort_keys=True)
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=colors, exception_formatter=structlog.dev.plain_traceback)
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared(), structlog.stdlib.ExtraAdder(), _drop_colors],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,  # tracebacks become text, and are scrubbed like the rest
            redact_secrets,
            *([] if log_format == "json" else [show_safely]),  # JSON escapes them itself
            renderer,
        ],
    )


def _drop_colors(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """uvicorn passes its message again with terminal colour codes (`color_message`): one copy is enough."""
    event_dict.pop("color_message", None)
    return event_dict


def configure_logging(
    log_format: LogFormat | str = "console",
    level: str = "warning",
    *,
    secrets: Iterable[str] = (),
    colors: bool | None = None,
) -> None:
    """Route structlog and the standard library's loggers to stderr in one format at one level.

    console: `time level event key=value …`, coloured only when stderr is a terminal (or `colors`);
    json: one JSON object per line. `secrets` are scrubbed from every line, with URL passwords."""
    global _pending
    if log_format not in FORMATS:  # the CLI hands over what the user typed
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {log_format!r}")
    if level.lower() not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, not {level!r}")
    redaction.configure(secrets)
    use_colors = sys.stderr.isatty() if colors is None else colors
    handler = _Stderr()
    handler.set_name(_handler_tag)
    handler.setFormatter(_Formatter(log_format, use_colors))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _handler_tag]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in NOISY:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    _pending = True
    if "structlog" in sys.modules:  # loggers may exist already (tests): configure them now
        _configure_structlog()


def _configure_structlog() -> None:
    """structlog's events scrubbed and handed to the standard library's handlers (ours above)."""
    global _pending
    import structlog

    _pending = False
    structlog.configure(  # scrubbed before any handler (ours, a test's, an error tracker's) sees the event
        processors=[
            structlog.stdlib.filter_by_level,  # a debug event under serve's info level costs nothing more
            *_shared(),
            structlog.processors.format_exc_info,
            redact_secrets,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def reset_logging() -> None:
    """Undo `configure_logging` (tests): our handler removed, the root logger back to WARNING."""
    global _pending
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _handler_tag]:
        root.removeHandler(old)
    root.setLevel(logging.WARNING)
    redaction.configure(())
    _pending = False
    _unconfigured_default()


def show_safely(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Before the console renderer: text values (names, messages from outside) with control and bidi
    characters escaped (safe_text.py), so a log line cannot forge another or colour the terminal; a
    traceback keeps its own line breaks."""
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = "\n".join(map(shown, value.split("\n"))) if key == "exception" else shown(value)
    return event


def _unconfigured_default() -> None:
    """Before any entry point configures logging (library use, tests): structlog hands finished,
    scrubbed lines to the standard library, whose last-resort handler shows WARNING and up."""
    import structlog

    structlog.configure(
        processors=[
            *_shared(),
            structlog.processors.format_exc_info,
            redact_secrets,
            show_safely,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    """A structlog logger named after the calling module, taken when its first event is kept."""
    return _Logger(name)


def _structlog_logger(name: str) -> Any:
    import structlog

    if _pending:
        _configure_structlog()
    elif not structlog.is_configured():
        _unconfigured_default()
    return structlog.stdlib.get_logger(name)


_METHOD_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "exception": logging.ERROR,
    "critical": logging.CRITICAL,
}


class _Logger:
    """structlog's logger for `name`, taken at the first event the standard library would keep.
    Until structlog is loaded, an event below the logger's level (which the standard library would
    drop after structlog had built it) is dropped here: a plan at the default `warning` level never
    imports structlog, its rich tracebacks or pygments (~13 MiB of a client's memory). Once loaded
    (an event was kept, or a test captures events), every call goes to structlog as before."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._std = logging.getLogger(name)
        self._real: Any = None

    def __getattr__(self, method: str) -> Any:
        level = _METHOD_LEVELS.get(method)
        if level is not None and "structlog" not in sys.modules and not self._std.isEnabledFor(level):
            return _dropped
        if self._real is None:
            self._real = _structlog_logger(self._name)
        return getattr(self._real, method)


def _dropped(*_args: Any, **_fields: Any) -> None:
    """An event below the level, before structlog is loaded: nothing to build."""
