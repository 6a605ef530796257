"""Shortcuts (book chapter 10): Table VI, SR-A (ms) / SR-B / SR-C x depth per data set."""
from __future__ import annotations

from typing import TYPE_CHECKING

from msr import paper
from msr.chapters._claims import clearly_above, pm, seeds_note
from msr.chapters._runs import seed_summary, train_runs

if TYPE_CHECKING:
    from msr.chapters import ChapterContext


def compute(ctx: ChapterContext) -> dict:
    """Chapter 10: Table VI sweep, SR-A (ms) / SR-B / SR-C x depth per data set."""
    runs = train_runs(ctx, "table6")
    t6 = seed_summary(runs, lambda c: (c.dataset, c.block, c.depth))
    return {"table6": t6, "datasets": sorted({c.dataset for c, _, _ in runs}),
            "claims": [_shortcuts_claim(t6), _no_degradation_claim(t6)],
            "missing": [why for _, _, why in runs if why]}


def _shortcuts_claim(t6: dict) -> dict:
    """SR-A vs SR-B at each (data set, depth) both were run: SR-A is clearly better, within
    the seed spread, or clearly worse (:data:`msr.chapters.SPREAD_RULE`).  Sec. V-C: "the
    accuracy of SR-B is a little behind", at every depth of Table VI; shown when SR-A is
    clearly worse at none.  ``t6``: {(dataset, block, depth): {"acc", "std", "n"} or None}."""
    text = ("the accuracy of SR-B is a little behind SR-A's (MS-ResNet) (Sec. V-C; in Table VI at every depth of "
            "both data sets)")
    pairs = [(f"{ds} {d}", t6[(ds, "ms", d)], t6[(ds, "sr_b", d)]) for ds, b, d in t6
             if b == "ms" and t6.get((ds, "ms", d)) and t6.get((ds, "sr_b", d))]
    if not pairs:
        return {"paper": text, "shown": None, "evidence": "not run", "kind": "evidence"}
    better = sum(clearly_above(a, b) for _, a, b in pairs)
    worse = sum(clearly_above(b, a) for _, a, b in pairs)
    seeds = seeds_note([x for _, a, b in pairs for x in (a, b)])
    return {"paper": text, "shown": worse == 0, "kind": "evidence",
            "evidence": "; ".join(f"{d}: {pm(a)} vs {pm(b)}" for d, a, b in pairs)
                        + f" (SR-A clearly better at {better}, within the seed spread at "
                          f"{len(pairs) - better - worse}, clearly worse at {worse}; shown: clearly worse at none of "
                          f"the {len(pairs)} (data set, depth) pairs run, ties within the seed spread passing); "
                          f"{seeds}; SR-A starts at gamma2 = 0 and SR-B at standard TDBN, so the comparison is of "
                          "position and initialisation together",
            "key": f"SR-A against SR-B at {len(pairs)} (data set, depth): clearly better at {better}, clearly "
                   f"worse at {worse}; {seeds}"}


def _no_degradation_claim(t6: dict) -> dict:
    """Sec. V-C: "the three structures can all expand to a large scale without facing the
    degradation problem". Per (data set, structure) with at least two depths stored: does
    the deepest depth fall clearly below the best shallower one (:data:`SPREAD_RULE`)?  Shown
    when none does."""
    names = paper.SHORTCUT_NAMES
    text = ("SR-A, SR-B and SR-C can all expand to a large scale without facing the degradation problem "
            "(Sec. V-C, Table VI)")
    series: dict = {}
    for (ds, block, depth), r in t6.items():
        if r and block in names:
            series.setdefault((ds, block), {})[depth] = r
    judged = {k: v for k, v in series.items() if len(v) > 1}
    if not judged:
        return {"paper": text, "shown": None, "evidence": "not run", "kind": "evidence"}
    parts, degraded = [], []
    for (ds, block), by_depth in sorted(judged.items()):
        deep = max(by_depth)
        best = max((d for d in by_depth if d != deep), key=lambda d: by_depth[d]["acc"])
        falls = clearly_above(by_depth[best], by_depth[deep])
        degraded += [f"{names[block]} on {ds}"] if falls else []
        parts.append(f"{names[block]} on {ds}: {deep} layers {pm(by_depth[deep])} against {pm(by_depth[best])} "
                     f"at {best}" + (" (clearly lower)" if falls else ""))
    seeds = seeds_note([r for v in judged.values() for r in v.values()])
    return {"paper": text, "shown": not degraded, "kind": "evidence",
            "evidence": "; ".join(parts) + f" (shown: at no structure is the deepest depth clearly below the best "
                                           f"shallower one); {seeds}",
            "key": (f"deepest clearly below a shallower depth: {', '.join(degraded)}" if degraded else
                    f"deepest not clearly below any shallower depth at all {len(judged)} structures") + f"; {seeds}"}
