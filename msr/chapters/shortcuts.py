"""Shortcuts (book chapter 10): Table VI, SR-A (ms) / SR-B / SR-C x depth per data set."""
from __future__ import annotations

from typing import TYPE_CHECKING

from msr.chapters._claims import clearly_above, pm, seeds_note
from msr.chapters._runs import seed_summary, train_runs

if TYPE_CHECKING:
    from msr.chapters import ChapterContext


def compute(ctx: ChapterContext) -> dict:
    """Chapter 10: Table VI sweep, SR-A (ms) / SR-B / SR-C x depth per data set."""
    runs = train_runs(ctx, "table6")
    t6 = seed_summary(runs, lambda c: (c.dataset, c.block, c.depth))
    return {"table6": t6, "datasets": sorted({c.dataset for c, _, _ in runs}), "claims": [_shortcuts_claim(t6)],
            "missing": [why for _, _, why in runs if why]}


def _shortcuts_claim(t6: dict) -> dict:
    """SR-A vs SR-B at each (data set, depth) both were run: SR-A is clearly better, within
    the seed spread, or clearly worse (:data:`msr.chapters.SPREAD_RULE`); shown when it is
    not clearly worse at more than half of them.  ``t6``: {(dataset, block, depth):
    {"acc", "std", "n"} or None}."""
    text = "SR-A (MS-ResNet) is at least as accurate as SR-B at most depths (Table VI)"
    pairs = [(f"{ds} {d}", t6[(ds, "ms", d)], t6[(ds, "sr_b", d)]) for ds, b, d in t6
             if b == "ms" and t6.get((ds, "ms", d)) and t6.get((ds, "sr_b", d))]
    if not pairs:
        return {"paper": text, "shown": None, "evidence": "not run", "kind": "evidence"}
    better = sum(clearly_above(a, b) for _, a, b in pairs)
    worse = sum(clearly_above(b, a) for _, a, b in pairs)
    seeds = seeds_note([x for _, a, b in pairs for x in (a, b)])
    return {"paper": text, "shown": len(pairs) - worse > len(pairs) / 2, "kind": "evidence",
            "evidence": "; ".join(f"{d}: {pm(a)} vs {pm(b)}" for d, a, b in pairs)
                        + f" (SR-A clearly better at {better}, within the seed spread at "
                          f"{len(pairs) - better - worse}, clearly worse at {worse}; shown: not clearly worse at "
                          f"more than half of the {len(pairs)}); {seeds}; SR-A starts at gamma2 = 0 and SR-B at "
                          f"standard TDBN, so the comparison is of position and initialisation together",
            "key": f"SR-A against SR-B at {len(pairs)} (data set, depth): clearly better at {better}, clearly "
                   f"worse at {worse}; {seeds}"}
