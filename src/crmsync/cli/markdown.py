"""The plan as a pull-request comment (`crmsync plan --format markdown`): a summary table, the changes
grouped by company (each with its provenance in a `<details>` block), then refusals, withheld
changes, conflicts, pending companies, deal errors and warnings in plain lists, cut to fit a GitHub
comment. Pure: renders the `plan --json` object, so it shows `edit_changes` / `pending_changes`
(`plan --base`) whenever the object has them.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from crmsync.safe_text import shown

GITHUB_LIMIT = 65_536  # characters GitHub accepts in one issue or pull-request comment
MARKER = "<!-- crmsync-plan -->"  # the CI recipes find their one sticky comment by it
SYMBOL = {"create": "+", "update": "~", "delete": "-"}
Doc = Mapping[str, Any]
BLOCKS = "\n\n"  # the separator of <details> blocks (GitHub renders markdown inside them only so)


@dataclass
class Section:
    """A heading and its items; the items at the end are cut first when the comment is too long."""

    heading: str
    items: list[str]
    intro: str = ""
    cut: int = field(default=0)
    sep: str = "\n"  # list items one per line; changes (each a <details> block) apart

    def text(self) -> str:
        """The section in markdown (nothing when it has no items and none were cut)."""
        if not self.items and not self.cut:
            return ""
        parts = [f"### {self.heading}", *([self.intro] if self.intro else []), self.sep.join(self.items)]
        if self.cut:
            parts.append(f"_… and {self.cut} more not shown: cut to fit a GitHub comment; run `crmsync plan` for all._")
        return "\n\n".join(p for p in parts if p)


def plan_markdown(doc: Doc, *, limit: int = GITHUB_LIMIT, root: str | None = None) -> str:
    """The comment for a plan JSON object, at most `limit` characters. `root`: rule paths under it are
    shown relative to it (the repository), so the comment names `mappings/hubspot.yaml:10`."""
    rel = _relative(root)
    based = "edit_changes" in doc
    sections = [
        Section("Refusals: apply would refuse", [f"- ⛔ {_esc(r.get('message', ''))}" for r in _l(doc, "refusals")])
    ]
    if based:
        base = _esc(str(doc.get("base", "")))
        edit = _changes(_l(doc, "edit_changes"), rel)
        none = ["No override changes from this edit."]
        sections.append(Section(f"Changes from this edit (against `{base}`)", edit or none, sep=BLOCKS))
        pending = _changes(_l(doc, "pending_changes"), rel)
        why = "What the CRM's deals change under both the base and this edit's mappings (not from this edit):"
        sections.append(Section("Pending CRM changes", pending, intro=why if pending else "", sep=BLOCKS))
    else:
        none = ["No changes: Schematic already matches the deals."]
        sections.append(Section("Changes", _changes(_l(doc, "changes"), rel) or none, sep=BLOCKS))
    sections += _reports(doc, rel)
    head = _head(doc, based)
    _fit(head, sections, limit)
    return _render(head, sections)


def _head(doc: Doc, based: bool) -> str:
    """The marker, the title and the summary table."""
    summary = doc.get("summary") or {}
    rows = [(f"`{SYMBOL[a]}` to {a}", summary.get(a, 0)) for a in ("create", "update", "delete")]
    if based:
        rows = [("changes from this edit", len(_l(doc, "edit_changes"))),
                ("pending CRM changes (not from this edit)", len(_l(doc, "pending_changes"))), *rows]  # fmt: skip
    rows += [
        ("withheld by a guard", doc.get("withheld", 0)),
        ("refusals", len(_l(doc, "refusals"))),
        ("conflicts", len(_l(doc, "conflicts"))),
        ("pending companies", len(_l(doc, "pending"))),
        ("deal errors", len(_l(doc, "errors"))),
        ("warnings", len(_l(doc, "warnings"))),
    ]
    table = "\n".join(["| | count |", "|---|---:|", *(f"| {name} | {count} |" for name, count in rows)])
    return f"{MARKER}\n## crmsync plan\n\n{table}"


def _changes(changes: Sequence[Doc], rel: Callable[[str], str]) -> list[str]:
    """Changes grouped by company (in plan order), one `<details>` per change."""
    by_company: dict[str, list[Doc]] = {}
    for change in changes:
        by_company.setdefault(str(change.get("company_id", "")), []).append(change)
    items: list[str] = []
    for company_id, group in by_company.items():
        name = group[0].get("company") or company_id
        items.append(f"#### {_esc(str(name))} (`{_esc(company_id)}`)")
        items.extend(_change(c, rel) for c in group)
    return items


def _change(change: Doc, rel: Callable[[str], str]) -> str:
    """One change: a summary line, and its provenance (deals, rules, effective entitlements) folded."""
    action = str(change.get("action", ""))
    feature = change.get("feature") or change.get("feature_id")
    line = (f"<code>{SYMBOL.get(action, '?')}</code> {action} <b>{_esc(str(feature))}</b>: "
            f"{_esc(value_text(change.get('before')))} → {_esc(value_text(change.get('after')))}")  # fmt: skip
    after = change.get("after") or {}
    lines = []
    if after.get("deals"):
        lines.append("deals: " + _deals(after["deals"]))
    if after.get("rules"):
        lines.append("rules: " + ", ".join(f"`{rel(str(r))}`" for r in after["rules"]))
    before = change.get("before") or {}
    if before.get("id"):
        lines.append(f"override: `{before['id']}`")
    if "effective_before" in change or "effective_after" in change:
        eff = f"{effective_text(change.get('effective_before'))} → {effective_text(change.get('effective_after'))}"
        lines.append(f"effective entitlement: {_esc(eff)}")
    if change.get("reason") and not after.get("deals"):  # a delete's why; a create's is its deals and rules
        lines.append(f"reason: {_esc(str(change['reason']))}")
    body = "\n".join(f"- {text}" for text in lines)
    return f"<details><summary>{line}</summary>\n\n{body}\n\n</details>"


def effective_text(effective: Any) -> str:
    """An effective entitlement (`Effective.to_json`) in words: `50 from override cmov_1`; other
    shapes as `value_text` says them."""
    if not (isinstance(effective, Mapping) and "granted_by" in effective):
        return value_text(effective)
    if effective.get("value") is None:
        return "none"
    kinds = [str(k).replace("_", "-") for k in effective.get("granted_by", [])]
    who = ", ".join(f"{k} {n}".strip() for k, n in zip(kinds, effective.get("granted_by_names", []), strict=False))
    return f"{value_text(effective['value'])} from {who}" if who else value_text(effective["value"])


def value_text(value: Any) -> str:
    """A value in words: `numeric 50 per current_month, expires 2027-12-31T23:59:59Z`; `none` for none."""
    if value is None:
        return "none"
    if isinstance(value, str | int | float | bool):
        return str(value).lower() if isinstance(value, bool) else str(value)
    if isinstance(value, Mapping) and "value_type" in value:
        kind = str(value["value_type"])
        text = {
            "boolean": f"{'on' if value.get('value_bool') else 'off'}",
            "numeric": f"{value.get('value_numeric')}",
            "trait": f"trait {value.get('value_trait_id')}",
        }.get(kind, kind)
        if value.get("metric_period"):
            text += f" per {value['metric_period']}"
        if value.get("metric_period_month_reset") == "billing_cycle":
            text += " (billing cycle)"
        if value.get("expiration_date"):
            text += f", expires {value['expiration_date']}"
        return text
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {value_text(v)}" for k, v in value.items())
    if isinstance(value, Iterable):
        return ", ".join(value_text(v) for v in value)
    return str(value)


def _where(item: Doc) -> str:
    company = item.get("company") or item.get("company_id")
    return f"{_esc(str(company))} / {_esc(str(item.get('feature') or item.get('feature_id')))}"


def _deals(deals: Iterable[Doc]) -> str:
    return _esc(", ".join(f"{d.get('source')} {d.get('deal_id')}" for d in deals))


def _conflict(c: Doc) -> str:
    live = c.get("live") or {}
    desired = _esc(value_text(c.get("desired")))
    return f"- {_where(c)}: override `{live.get('id')}` ({_esc(value_text(live))}); the deals want {desired}"


def _pending(p: Doc) -> str:
    key = _esc(f"{p.get('company_key')}={p.get('company_key_value')}")
    return f"- no Schematic company has `{key}` yet (deal {_deals(p.get('deals') or ())}); retried next run"


def _error(e: Doc, rel: Callable[[str], str]) -> str:
    rule = f" (`{rel(str(e['rule']))}`)" if e.get("rule") else ""
    return f"- {e.get('source')} deal {_esc(str(e.get('deal_id')))}: {_esc(str(e.get('message')))}{rule}"


def _expired(e: Doc) -> str:
    return f"- {_where(e)}: override `{e.get('override_id')}` ({_esc(value_text(e.get('live')))}): {e.get('reason')}"


def _reports(doc: Doc, rel: Callable[[str], str]) -> list[Section]:
    """Everything beside the changes, each in plain words."""
    warnings = _l(doc, "warnings")
    return [
        Section("Withheld changes", [f"- {_esc(str(w.get('message', '')))}" for w in warnings if w.get("withheld")]),
        Section(
            "Conflicts: overrides crmsync did not create, left untouched", [_conflict(c) for c in _l(doc, "conflicts")]
        ),
        Section(
            "Adoptable",
            [f"- {_where(a)}: override `{a.get('override_id')}` (crmsync adopt)" for a in _l(doc, "adoptable")],
        ),
        Section("Expired since the last run (left in Schematic, inert)", [_expired(e) for e in _l(doc, "expired")]),
        Section("Drift", [f"- {_where(d)}: {_esc(str(d.get('reason', '')))}" for d in _l(doc, "drift")]),
        Section(
            "Released (not managed)", [f"- {_where(r)}: {_esc(str(r.get('reason', '')))}" for r in _l(doc, "released")]
        ),
        Section("Pending companies", [_pending(p) for p in _l(doc, "pending")]),
        Section("Deal errors", [_error(e, rel) for e in _l(doc, "errors")]),
        Section("Warnings", [f"- ⚠️ {_esc(str(w.get('message', '')))}" for w in warnings if not w.get("withheld")]),
    ]


def _render(head: str, sections: Sequence[Section]) -> str:
    return "\n\n".join([head, *(t for s in sections if (t := s.text()))]) + "\n"


def _fit(head: str, sections: list[Section], limit: int) -> None:
    """Cut items from the end (pending CRM changes first, then the longest list) until the comment fits;
    sizes are counted as items go, then checked on the rendered text."""
    note = 200  # more than each section's "… and N more" line takes
    total = len(_render(head, sections))
    while total > limit:
        cuttable = [s for s in sections if s.items]
        if not cuttable:
            return
        target = next((s for s in cuttable if s.heading == "Pending CRM changes"), None)
        target = target or max(cuttable, key=lambda s: sum(map(len, s.items)))
        removed = target.items.pop()
        total -= len(removed) + 2
        if not removed.startswith("#### "):  # a company heading is no change
            total += note if target.cut == 0 else 0
            target.cut += 1
        if total <= limit:
            total = len(_render(head, sections))


def _relative(root: str | None) -> Callable[[str], str]:
    """`path:line` shown relative to `root` when under it (the comment names repository paths)."""

    def rel(text: str) -> str:
        path, sep, line = text.rpartition(":")
        if not sep or not line.isdigit() or root is None:
            return text
        try:
            return f"{PurePath(path).relative_to(root).as_posix()}:{line}"
        except ValueError:
            return text

    return rel


def _l(doc: Doc, key: str) -> list[Doc]:
    value = doc.get(key)
    return list(value) if isinstance(value, list) else []


def _esc(text: str) -> str:
    """Text safe inside markdown and HTML: a deal name cannot open a tag, break the table, or hide
    control or bidi characters (safe_text.shown escapes them, as every other output does)."""
    return html.escape(shown(text), quote=False).replace("|", "\\|")
