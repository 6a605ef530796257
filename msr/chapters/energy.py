"""Energy (book chapter 6): Table V from our counted MACs and from firing rates measured on
our trained models (Sec. IV-C)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from msr import paper
from msr.chapters._runs import measured_items, one_table2_depth, run_budget

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
    measured = measured_items(ctx, "energy", every_depth=True)
    if measured:
        out["measured"] = {label: {**payload(item), "dataset": c.dataset, "run": item["config"]["run"],
                                   "budget": run_budget(c), "provenance": item["provenance"]}
                           for label, (c, item, _) in measured.items()}
        out["tabled"] = one_table2_depth(measured)  # the table's models: one Table II depth, the deepest
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


def table_v_rows(rows: list[dict]) -> list:
    """Table V as report rows (:class:`msr.chapters.report.Row`) from :func:`energy_rows`: each
    number of the paper beside ours, in the paper's unit and precision (mJ or µJ, G or M)."""
    from msr.chapters.report import Row
    from msr.models import paper_name

    quantities = (("flops", "our MACs (M)", 1e6, "count", "FLOPs (residual-path MACs)"),
                  ("e_ann_mj", "our E(ANN) mJ", 1.0, "mJ", "E(ANN)"),
                  ("rate", "our rate", 1.0, "", "network firing rate"),
                  ("syops", "our SyOPs (M)", 1e6, "count", "SyOPs"),
                  ("e_snn_mj", "our E(SNN) mJ", 1.0, "mJ", "E(SNN)"),
                  ("ratio", "our ratio", 1.0, "", "E(ANN) / E(SNN)"))
    out = []
    for r in rows:
        p = paper.TABLE_V[r["model"]]
        for key, ours, scale, unit, words in quantities:
            # a column of Table V is printed at one precision; the rates come from the text (Sec. IV-B, IV-C)
            column = () if key == "rate" else tuple(q[key] for q in paper.TABLE_V.values())
            out.append(Row("Table V", f"{paper_name(r['model'])} {words}", p[key],
                           None if r[ours] is None else r[ours] * scale, unit, column=column))
    return out


def _as_paper(n: float, like: float, more: int = 0) -> str:
    """Operations ``n`` written in the unit and precision the paper writes ``like`` (3.53G,
    40.11M), with ``more`` decimals more."""
    from msr.chapters.report import decimals, shown_in

    scale, unit = shown_in(like, "count")
    return f"{n / scale:.{decimals(like / scale) + more}f}{unit}"


def _off(ours: float, theirs: float) -> str:
    """Signed per cent of ours against the paper's; round(-0.04, 1) + 0.0 prints +0.0, not -0.0."""
    return f"{round(100 * (ours / theirs - 1), 1) + 0.0:+.1f} %"


def mac_notes(structure: dict) -> list[str]:
    """Our residual-path and total MACs against the paper's FLOPs, in the paper's unit and
    precision (ours a digit more), the share of MACs outside the residual paths (Sec. IV-C),
    and the firing rate the paper's DVS row implies (SyOPs / FLOPs, per frame)."""
    from msr.chapters.report import decimals
    from msr.models import paper_name

    out = []
    for name, s in structure["models"].items():
        flops = paper.TABLE_V[name]["flops"]
        line = (f"- {paper_name(name)} (`{name}`): {_as_paper(s['macs_residual'], flops, 1)} residual MACs, paper "
                f"{_as_paper(flops, flops)} ({_off(s['macs_residual'], flops)}; all MACs "
                f"{_as_paper(s['macs_total'], flops, 1)}, {_off(s['macs_total'], flops)} against the paper's FLOPs); "
                f"{100 * s['excluded_share']:.1f} % of all MACs lie outside the residual paths")
        if name in paper.EXCLUDED_FLOPS_SHARE:
            share = 100 * paper.EXCLUDED_FLOPS_SHARE[name]
            line += f" (paper: {share:.{decimals(share)}f} %)"
        out.append(line)
    p = paper.TABLE_V["dvs_resnet20"]
    rate = 100 * paper.FIRING_RATE["dvs_resnet20"]
    out.append(f"- The paper's CIFAR10-DVS row: its {_as_paper(p['syops'], p['syops'])} SyOPs from "
               f"{_as_paper(p['flops'], p['flops'])} FLOPs imply r = {p['syops'] / p['flops']:.3f} per frame, below "
               f"the {rate:.{decimals(rate)}f} % that {paper.FIRING_RATE_SECTION['dvs_resnet20']} gives for this "
               "network; the paper does not say which rate its row used.")
    return out
