"""Architectures (book chapter 1): parameters and MACs of every model family, stage
shapes as built (Table I, IX) and the traced block flows (Fig. 1, 2a)."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from msr.chapters import ChapterContext


def _payload() -> dict:
    from msr.models import create_model
    from msr.structure import block_flow, stage_shapes, structure_models, summarize

    rows = []
    for label, name, kw in structure_models():
        s = summarize(create_model(name, **kw), name=name).as_dict()
        s.pop("residual_convs")
        rows.append({"label": label, "model": name, **{k: v for k, v in kw.items()}, **s})
    tables = {
        "table1": {str(d): stage_shapes(create_model("cifar_resnet", depth=d)) for d in (20, 56)},
        "table9": {n: stage_shapes(create_model(n))
                   for n in ("imagenet_resnet18", "imagenet_resnet34", "imagenet_resnet104")},
        "dvs": stage_shapes(create_model("dvs_resnet20")),
    }
    flows = {b: block_flow(b) for b in ("plain", "vanilla", "wolif", "ms", "sr_b", "sr_c")}
    return {"models": rows, "tables": tables, "flows": flows}


def compute(ctx: ChapterContext) -> dict:
    """Chapter 1: params and MACs of every model family (msr.structure.summarize),
    stage shapes as built (Table I, IX) and the traced block flows (Fig. 1, 2a)."""
    from msr.structure import structure_models

    config = {"kind": "structure", "models": structure_models(), "version": 1}
    return {"structure": ctx.item("structure", config, _payload, cheap=True)}
