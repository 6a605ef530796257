"""Loss landscapes (book chapter 8): Fig. 4 for trained vanilla and MS models at several depths."""
from __future__ import annotations

from typing import TYPE_CHECKING

from msr.chapters._runs import per_run_items, primary, train_runs

if TYPE_CHECKING:
    from msr.chapters import ChapterContext


def compute(ctx: ChapterContext) -> dict:
    """Chapter 8: loss landscapes (Fig. 4) of trained vanilla and MS models at several
    depths (their per-run analyses)."""
    from msr.per_run import LANDSCAPE_DEPTHS, payload

    runs = {(c.block, c.depth): (c, r) for c, r, _ in
            train_runs(ctx.reader(), "table2", seeds=primary())}
    depths = sorted({d for b, d in runs if d in LANDSCAPE_DEPTHS})
    found = per_run_items(ctx, "landscape", {f"{b}-{d}": runs[(b, d)] for b in ("vanilla", "ms") for d in depths})
    res = ({"landscapes": {k: payload(item) for k, (item, _) in found.items()},
            "provenances": [item["provenance"] for item, _ in found.values()]} if found else None)
    return {"landscape": res, "claims": [_landscape_claim(res)]}


def _landscape_claim(res) -> dict:
    text = ("the vanilla network's loss landscape grows non-convex with depth; "
            "MS-ResNet's stays well-conditioned (Fig. 4)")
    ls = (res or {}).get("landscapes") or {}
    v = sorted((int(k.split("-")[1]), d["nonconvexity"]) for k, d in ls.items() if k.startswith("vanilla"))
    m = sorted((int(k.split("-")[1]), d["nonconvexity"]) for k, d in ls.items() if k.startswith("ms"))
    if len(v) < 2 or len(m) < 2:
        return {"paper": text, "shown": None, "evidence": "not run", "kind": "evidence"}
    shown = v[-1][1] > v[0][1] and m[-1][1] <= v[-1][1]

    def fmt(xs):
        return ", ".join(f"{d}: {x:.2f}" for d, x in xs)

    return {"paper": text, "shown": shown, "evidence": f"non-convex share of the grid, vanilla {fmt(v)}; MS {fmt(m)}",
            "kind": "evidence"}
