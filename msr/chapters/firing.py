"""Firing rates (book chapter 7): layer-wise firing rates (Fig. 3a) and rasters (Fig. 3b)
of our trained MS models."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from msr.chapters._runs import (
    initial_model,
    measured_items,
    one_table2_depth,
    per_run_items,
    primary,
    run_budget,
    test_batch,
    train_runs,
)
from msr.models import paper_name
from msr.sweep import TABLE2_DEPTHS

if TYPE_CHECKING:
    from msr.chapters import ChapterContext


#: Table II MS depths measured at initialisation beside the trained models (the firing claim)
INIT_DEPTHS = TABLE2_DEPTHS  # each trained Table II MS model has its untrained twin


def compute(ctx: ChapterContext) -> dict:
    """Chapter 7: layer-wise firing rates (Fig. 3a) and rasters (Fig. 3b) of our trained MS
    models (their per-run analyses), and the same rates of untrained MS networks."""
    from msr.per_run import payload

    init, others = _init_rates(ctx), _other_blocks(ctx)
    measured = measured_items(ctx, "firing", every_depth=True)  # the claim judges every trained model
    if not measured:
        return {"firing": None, "rates": {}, "init": init, "others": others, "claims": [_firing_claim(None, init)]}
    res = {"models": {label: {**payload(item), "dataset": c.dataset, "run": item["config"]["run"],
                              "experiment": item["config"]["experiment"], "budget": run_budget(c),
                              "provenance": item["provenance"]}
                      for label, (c, item, _) in measured.items()},
           "provenances": [item["provenance"] for _, item, _ in measured.values()],
           # Fig. 3 draws the deepest trained Table II model and the other measured ones
           "drawn": one_table2_depth(measured)}
    rasters = {f"{label}__{i}": arrays[f"raster{i}"] for label, (_, item, arrays) in measured.items()
               if label in res["drawn"] for i in range(len(item["kept"])) if arrays and f"raster{i}" in arrays}
    rates = {label: {"rate": item["network_rate"], "provenance": item["provenance"], "dataset": c.dataset}
             for label, (c, item, _) in measured.items()}
    return {"firing": res, "rasters": rasters, "rates": rates, "init": init, "others": others,
            "claims": [_firing_claim(res, init)]}


def _other_blocks(ctx: ChapterContext) -> dict:
    """``{"cifar_resnet20 (vanilla)": {...}}``: the network firing rates of the trained Table II
    models of the other blocks (vanilla, PlainNet, W/O interblock LIF) that have their firing
    analysis, deepest first. The paper measures MS models only; these go beside them in the
    rates table, not into Fig. 3 or the claim, which are about MS's residual paths."""
    runs = train_runs(ctx.reader(), "table2", seeds=primary())
    chosen = {f"cifar_resnet{c.depth} ({c.block})": (c, r)
              for c, r, _ in sorted(runs, key=lambda run: (run[0].block, -run[0].depth)) if c.block != "ms"}
    return {label: {"network_rate": item["network_rate"], "dataset": chosen[label][0].dataset,
                    "budget": run_budget(chosen[label][0]), "provenance": item["provenance"]}
            for label, (item, _) in per_run_items(ctx, "firing", chosen).items()}


def _init_rates(ctx: ChapterContext) -> dict | None:
    """Block-wise rates of Table II's MS networks at :data:`INIT_DEPTHS`, untrained (BN on
    batch statistics, as they first run), on the analyses' inputs: what the trained rates
    are compared with (needs no training, so it is computed in every compute mode)."""
    from msr import per_run

    runs = {c.depth: c for c, _, _ in train_runs(ctx.reader(), "table2", seeds=primary()) if c.block == "ms"}
    depths = [d for d in INIT_DEPTHS if d in runs]
    if not depths:
        return None
    base = runs[depths[0]]
    samples = per_run.analysis_sizes(ctx.profile)["samples"]
    key = {"kind": "firing_init", "base": base.hash_dict(), "depths": depths, "samples": samples,
           "inputs": per_run.inputs_of(base)}

    def measure() -> dict:
        from msr.analysis.firing import firing_rates

        x, _ = test_batch(base, samples)
        out = {}
        for d in depths:
            rates = firing_rates(initial_model(runs[d]), x, T=runs[d].T, mode="train").to_dict()
            out[f"cifar_resnet{d}"] = {"blocks": rates["blocks"], "network_rate": rates["network_rate"]}
        return {"models": out}

    return ctx.item("firing", key, measure)


def _lif_pairs(m: dict) -> list[dict]:
    return [x for x in m["blocks"] if "lif1" in x and "lif2" in x]


def _stages(b: list[dict]) -> list[tuple[float, float]]:
    """Per stage (in order; blocks without a ``stage`` count as one stage): the mean rate of the
    first and of the second LIF over its blocks, as Fig. 3a averages them."""
    groups: dict = {}
    for x in b:
        groups.setdefault(x.get("stage", 0), []).append(x)
    return [(float(np.mean([x["lif1"] for x in g])), float(np.mean([x["lif2"] for x in g])))
            for _, g in sorted(groups.items())]


def _n_lower(stages: list[tuple[float, float]]) -> int:
    """How many of the ``stages`` (:func:`_stages`) have lif2 firing less than lif1 on average."""
    return sum(l2 < l1 for l1, l2 in stages)


def _lower(name: str, b: list[dict]) -> str:
    """``MS-ResNet56 2/3``: the stages whose second LIF fires less on average, of all."""
    st = _stages(b)
    return f"{name} {_n_lower(st)}/{len(st)}"


def _pattern(name: str, b: list[dict]) -> str:
    st = _stages(b)
    rates = ", ".join(f"{l1:.3f} / {l2:.3f}" for l1, l2 in st)
    return (f"{name}: the second LIF fires less than the first on average in {_n_lower(st)} of "
            f"{len(st)} stages (mean rate first / second, by stage: {rates})")


def _firing_claim(res, init=None) -> dict:
    """Sec. IV-B: the second LIF "tends to be less active", which Fig. 3a shows on rates
    averaged per stage. Shown when, in every trained model except the CPU-sized ``short`` run
    (a network early in training), lif2's stage average is below lif1's in more than half the
    stages.  The same networks untrained (``init``) are reported beside: a pattern the
    untrained networks show already could come from the block's structure rather than training."""
    text = ("the second LIF of the residual paths tends to fire less than the first, on average per stage "
            "(Sec. IV-B, Fig. 3a, on ImageNet's MS-ResNet34 and 104; ours: the Table II MS models)")

    def pairs_of(result):  # label -> the blocks with both LIFs, of the models that have any
        found = {k: _lif_pairs(m) for k, m in ((result or {}).get("models") or {}).items()}
        return {k: b for k, b in found.items() if b}

    models = pairs_of(res)
    judged = {k: b for k, b in models.items() if res["models"][k].get("experiment") != "short"}
    before = pairs_of(init)
    twins = {k: b for k, b in before.items() if k in models}  # the untrained twins of the models measured
    before = twins or before
    untrained = ("; untrained, on the same images: " + "; ".join(_pattern(paper_name(k), b) for k, b in before.items())
                 if before else "")
    before_key = "; untrained: " + ", ".join(_lower(paper_name(k), b) for k, b in before.items()) if before else ""
    if not judged:
        if not models:
            return {"paper": text, "shown": None, "evidence": "not run", "kind": "evidence"}
        early = "; ".join(_pattern(paper_name(k), b) for k, b in models.items())
        return {"paper": text, "shown": None, "kind": "evidence", "measured": True,
                "evidence": f"not judged until the trained Table II models are stored; so far only the short run "
                            f"(early in training) is measured: {early}{untrained}",
                "key": "stages whose second LIF fires less, only the short run (early in training): "
                       + ", ".join(_lower(paper_name(k), b) for k, b in models.items()) + before_key}
    ok = all(_n_lower(st) > len(st) / 2 for st in map(_stages, judged.values()))
    evidence = "trained: " + "; ".join(_pattern(paper_name(k), b) for k, b in judged.items()) + untrained
    evidence += (" (shown: the second LIF's stage average is lower in more than half the stages of every trained "
                 "model; the paper: about 5 times lower in stage 3 of MS-ResNet104)")
    key = "stages whose second LIF fires less, trained: " + ", ".join(
        _lower(paper_name(k), b) for k, b in judged.items())
    # the badge names the models behind a verdict (the chapter measures the deepest trained
    # Table II MS model, not the paper's ImageNet ones)
    scope = "on " + ", ".join(paper_name(k) for k in judged) + " only"
    return {"paper": text, "shown": ok, "evidence": evidence, "key": key + before_key, "kind": "evidence",
            "scope": scope}
