"""The sample mappings exist twice on purpose: `mappings/` (the default folder of a checkout) and the
package data `crmsync/sandbox/mappings/` (what `crmsync demo` and the sandbox use once installed from
a wheel). The two must stay byte-identical: an edit to one is an edit to both."""

from __future__ import annotations

from pathlib import Path

from crmsync.cli.demo import sample_mappings

ROOT = Path(__file__).resolve().parents[2]


def files(folder: Path) -> dict[str, bytes]:
    """Every file under `folder`, by relative path, with its bytes (caches aside)."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_the_packaged_sample_mappings_equal_the_checkout_ones() -> None:
    """mappings/ and src/crmsync/sandbox/mappings/ hold the same files with the same bytes."""
    checkout, packaged = files(ROOT / "mappings"), files(sample_mappings())
    assert sorted(checkout) == sorted(packaged)
    assert [name for name in checkout if checkout[name] != packaged[name]] == []
    assert {"hubspot.yaml", "salesforce.yaml"} <= set(checkout)
