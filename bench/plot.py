"""How crmsync's client CPU, wall time and peak RSS grow with deals and companies, drawn from
bench/results.json into bench/scaling.png (shown in the README's Performance section).

Run after `python -m bench.run` (matplotlib is in the dev dependency group):
    python3 -m uv run python -m bench.plot [--results bench/results.json] [--out bench/scaling.png]

Points: each size's reconciles (bench/size.py: cold and no-op) and the memory part's fresh no-op
clients (bench/memory.py), x = deals, one line per company count and run; the title names the
commit measured.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIGURES = (("client_cpu_s", "client CPU (s)"), ("wall_s", "wall time (s)"), ("peak_rss_mb", "peak RSS (MiB)"))

Series = dict[tuple[str, int], list[tuple[int, dict[str, float]]]]  # (run, companies) → (deals, figures)


def series(results: dict[str, Any]) -> Series:
    """The points to draw, by run and company count, sorted by deals."""
    found: Series = defaultdict(list)
    for size in results.get("sizes") or []:
        for label in ("cold reconcile", "no-op reconcile"):
            run = size["runs"].get(label)
            if isinstance(run, dict):
                found[(label, size["companies"])].append((size["deals"], run))
    memory = results.get("runs", {}).get("memory")
    for run in memory.values() if isinstance(memory, dict) else ():
        if isinstance(run, dict):
            found[("no-op, fresh client", run["companies"])].append((run["deals"], run))
    return {key: sorted(points, key=lambda p: p[0]) for key, points in sorted(found.items())}


def draw(results: dict[str, Any], out: Path) -> None:
    """Three panels (CPU, wall, RSS) against deals; the file `out` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")  # no display: a file only
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(FIGURES), figsize=(15, 4.5))
    for (label, companies), points in series(results).items():
        for ax, (key, _) in zip(axes, FIGURES, strict=True):
            xs = [deals / 1000 for deals, run in points if isinstance(run.get(key), int | float)]
            ys = [run[key] for _, run in points if isinstance(run.get(key), int | float)]
            if xs:
                ax.plot(xs, ys, marker="o", label=f"{label}, {companies:,} companies")
    for ax, (_, title) in zip(axes, FIGURES, strict=True):
        ax.set_xlabel("deals (thousands)")
        ax.set_title(title)
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[-1].legend(fontsize=8, loc="lower right")
    commit = str(results.get("commit", "unknown"))[:12] + (" (dirty)" if results.get("dirty") else "")
    fig.suptitle(f"crmsync scaling, {results.get('date', '?')}, commit {commit}")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "scaling.png")
    args = parser.parse_args()
    draw(json.loads(args.results.read_text()), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
