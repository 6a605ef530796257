"""Energy (book chapter 6): Table V from our counted MACs and from firing rates measured on
our trained models (Sec. IV-C)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from msr import paper
from msr.chapters._runs import measured_items, run_budget

if TYPE_CHECKING:
    from msr.chapters import ChapterContext


def _structure_payload() -> dict:
    from msr.models import create_model
    from msr.structure import summarize

    rows = {}
    for name in ("imagenet_resnet34", "imagenet_resnet104", "dvs_resnet20"):
        s = summarize(create_model(name), name=name)
        rows[name] = {"macs_residual": s.macs_residual, "macs_total": s.macs_total,
                      "macs_encoding": s.macs_encoding, "macs_shortcut": s.macs_shortcut,
                      "excluded_share": (s.macs_encoding + s.macs_shortcut) / s.macs_total, "params": s.params}
    return {"models": rows}


def compute(ctx: ChapterContext) -> dict:
    """Chapter 6: Table V from our counted MACs (cheap) and firing rates measured on our
    trained models (their per-run analyses, when the store has them)."""
    from msr.per_run import payload

    cfg = {"kind": "energy_structure", "version": 1}
    out = {"structure": ctx.item("energy_structure", cfg, _structure_payload, cheap=True)}
    measured = measured_items(ctx, "energy")
    if measured:
        out["measured"] = {label: {**payload(item), "dataset": c.dataset, "run": item["config"]["run"],
                                   "budget": run_budget(c), "provenance": item["provenance"]}
                           for label, (c, item, _) in measured.items()}
    return out


def energy_rows(structure: dict | None, measured: dict | None = None) -> list[dict]:
    """Table V rows: our MACs and the paper's, energies at 4.6 pJ/MAC and 0.9 pJ/AC
    (:func:`msr.analysis.energy.table_v_row`).  ``measured`` maps a model to our firing
    rate and T (None: not run); a model measured on event frames (``per_frame``) is
    counted per frame, SyOPs = r x MACs (Sec. IV-C)."""
    from msr.analysis.energy import energy, table_v_row

    rows = []
    if structure is None:
        return rows
    for name, p in paper.TABLE_V.items():
        macs = structure["models"][name]["macs_residual"]
        row = {"model": name, "paper FLOPs (M)": p["flops"] / 1e6, "our MACs (M)": macs / 1e6,
               "paper E(ANN) mJ": p["e_ann_mj"], "our E(ANN) mJ": energy(macs, 0.0).e_ann_mj,
               "paper SyOPs (M)": p["syops"] / 1e6, "paper E(SNN) mJ": p["e_snn_mj"], "paper ratio": p["ratio"]}
        m = (measured or {}).get(name)
        if m:
            e = table_v_row(macs, m.get("T"), m["rate"], per_frame=bool(m.get("per_frame")))
            row.update({"our rate": m["rate"], "our SyOPs (M)": e.syops / 1e6, "our E(SNN) mJ": e.e_snn_mj,
                        "our ratio": e.ratio})
        else:
            row.update({"our rate": None, "our SyOPs (M)": None, "our E(SNN) mJ": None, "our ratio": None})
        rows.append(row)
    return rows
