"""Firing rates (book chapter 7): layer-wise firing rates (Fig. 3a) and rasters (Fig. 3b)
of our trained MS models."""
from __future__ import annotations

from typing import TYPE_CHECKING

from msr.chapters._runs import measured_items, run_budget
from msr.models import paper_name

if TYPE_CHECKING:
    from msr.chapters import ChapterContext


def compute(ctx: ChapterContext) -> dict:
    """Chapter 7: layer-wise firing rates (Fig. 3a) and rasters (Fig. 3b) of our trained MS
    models (their per-run analyses)."""
    from msr.per_run import payload

    measured = measured_items(ctx, "firing")
    if not measured:
        return {"firing": None, "rates": {}, "claims": [_firing_claim(None)]}
    res = {"models": {label: {**payload(item), "dataset": c.dataset, "run": item["config"]["run"],
                              "budget": run_budget(c), "provenance": item["provenance"]}
                      for label, (c, item, _) in measured.items()},
           "provenances": [item["provenance"] for _, item, _ in measured.values()]}
    rasters = {f"{label}__{i}": arrays[f"raster{i}"] for label, (_, item, arrays) in measured.items()
               for i in range(len(item["kept"])) if arrays and f"raster{i}" in arrays}
    rates = {label: {"rate": item["network_rate"], "provenance": item["provenance"], "dataset": c.dataset}
             for label, (c, item, _) in measured.items()}
    return {"firing": res, "rasters": rasters, "rates": rates, "claims": [_firing_claim(res)]}


def _firing_claim(res) -> dict:
    text = "the second LIF of each residual path fires less than the first (Sec. IV-B)"
    if not res or not res.get("models"):
        return {"paper": text, "shown": None, "evidence": "not run", "kind": "evidence"}
    parts, ok = [], True
    for label, m in res["models"].items():
        b = [x for x in m["blocks"] if "lif1" in x and "lif2" in x]
        if not b:
            continue
        lower = sum(x["lif2"] < x["lif1"] for x in b)
        ok = ok and lower > len(b) / 2
        parts.append(f"{paper_name(label)}: lif2 < lif1 in {lower} of {len(b)} blocks")
    return {"paper": text, "shown": ok if parts else None, "evidence": "; ".join(parts) or "no blocks",
            "kind": "evidence"}
