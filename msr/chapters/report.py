"""Report (book chapter 12): every number of the paper (NUMBERS.md, :mod:`msr.paper`)
beside ours where the store has it, and each of the paper's claims with its verdict."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from msr import paper
from msr.chapters import degradation, unavailing
from msr.models import paper_name
from msr.profiles import get_profile
from msr.provenance import commit_of, date_of, hardware_of

if TYPE_CHECKING:
    from msr.chapters import ChapterContext


def claims(results: dict) -> list[dict]:
    """Each of the paper's qualitative claims with whether our stored results show it
    (``shown`` True/False, None = not run), the evidence, and its ``kind``
    (:data:`msr.chapters.CLAIM_KINDS`), computed from the store, and the ``chapter`` that
    checks it."""
    out = [{**c, "chapter": "degradation"} for c in degradation.claims(results.get("degradation"))]
    out.append({**unavailing.eq8_claim((results.get("unavailing") or {}).get("eq8")), "chapter": "unavailing"})
    for chapter, res in results.items():
        for c in (res or {}).get("claims", []) if isinstance(res, dict) else []:
            out.append({**c, "chapter": chapter})
    return out


def compute(ctx: ChapterContext) -> dict:
    """Chapter 12: what the store holds for every chapter (never trains)."""
    from msr.chapters import collect

    return {"results": collect(ctx)}


@dataclass
class Row:
    """One number of the paper beside ours (NUMBERS.md, from :mod:`msr.paper`)."""

    section: str
    quantity: str
    paper: float | None
    ours: float | None = None
    unit: str = ""
    prov: dict | None = None
    dataset: str = ""
    note: str = ""

    def as_dict(self, profile: str) -> dict:
        run = self.ours is not None
        delta = (self.ours - self.paper) if run and self.paper is not None else None
        return {"section": self.section, "quantity": self.quantity, "paper": self.paper,
                "ours": self.ours if run else "not run", "delta": delta, "unit": self.unit,
                "profile": profile if run else "", "data set": self.dataset if run else "",
                "hardware": hardware_of(self.prov) if run else "", "date": date_of(self.prov)[:10] if run else "",
                "commit": commit_of(self.prov) if run else "", "note": self.note}


def report_rows(profile: str, results: dict) -> list[Row]:
    """Every number of NUMBERS.md (from :mod:`msr.paper`) with ours where a stored result has it."""
    ds = get_profile(profile).dataset
    rows: list[Row] = []
    deg = (results.get("degradation") or {}).get("table2") or {}
    for block, by_depth in paper.TABLE_II.items():
        for depth, acc in by_depth.items():
            r = deg.get((block, depth))
            rows.append(Row("Table II", f"{paper.TABLE_II_LABELS[block]}, depth {depth}", acc,
                            r["acc"] if r else None, "%", r and r.get("provenance"), ds,
                            "; ".join(x for x in ("paper: N/A" if acc is None else "", _seeds_row(r)) if x)))
    deep = (results.get("degradation") or {}).get("deep") or {}
    for depth, acc in paper.DEEP_CIFAR10.items():
        r = deep.get(("ms", depth))
        rows.append(Row("Sec. III-D", f"MS-ResNet{depth}", acc, r["acc"] if r else None, "%",
                        r and r.get("provenance"), ds, _seeds_row(r)))
    eq8 = (results.get("unavailing") or {}).get("eq8")
    rows.append(Row("Eq. 8", "P(state change), sigma = V_th (closed form)", paper.EQ8_PROBABILITY,
                    eq8["at_vth"]["analytic"] if eq8 else None, "", eq8 and eq8.get("provenance"), "analytic"))
    rows.append(Row("Eq. 8", "P(state change), sigma = V_th (Monte-Carlo)", paper.EQ8_PROBABILITY,
                    eq8["at_vth"]["monte_carlo"] if eq8 else None, "", eq8 and eq8.get("provenance"), "simulated"))
    bench_runs = results.get("benchmarks") or {}
    ours_in = {(b["model"], b["T"]): b["result"] for b in bench_runs.get("imagenet", []) if b["result"]}
    for (model, T), acc in paper.TABLE_III.items():
        r = ours_in.get((model, T))
        rows.append(Row("Table III", f"{paper_name(model)}, T = {T}", acc, r and r["acc"], "%",
                        r and r.get("provenance"), r["dataset"] if r else "", "needs ImageNet" if not r else ""))
    rows.append(Row("Table III", f"{paper_name('imagenet_resnet104')}, 288x288 crops", paper.TABLE_III_104_AT_288,
                    None, "%", note="needs ImageNet"))
    for model, acc in paper.TABLE_III_ANN.items():
        ann = paper_name(model).removeprefix("MS-")  # the ANN twin is a plain ResNet
        rows.append(Row("Table III", f"{ann}, ANN", acc, None, "%", note="ANN baseline, not in scope"))
    dvs_runs = bench_runs.get("dvs", [])
    dvs = next((b for b in dvs_runs if b["result"]), None)
    for work, method, _params, acc in paper.TABLE_IV:
        ours = work == "paper"
        r = dvs["result"] if ours and dvs else None
        if not ours:
            note = "cited work, not reproduced"
        elif r:
            note = f"ours on {dvs['data']}" + ("" if r["dataset"] == "cifar10_dvs" else ", not CIFAR10-DVS")
        else:
            data = dvs_runs[0]["data"] if dvs_runs else "CIFAR10-DVS"
            note = f"not run (ours would use {data})"
        rows.append(Row("Table IV", f"{work}: {method}", acc, r and r["acc"], "%", r and r.get("provenance"),
                        r["dataset"] if r else "", note))
    arch = (results.get("architectures") or {}).get("structure")
    if arch:
        by = {r["label"]: r for r in arch["models"]}
        rows.append(Row("Table IV", "MS-ResNet20 parameters", paper.DVS_PARAMS, float(by["dvs_resnet20"]["params"]),
                        "", arch.get("provenance"), "structure"))
    else:
        rows.append(Row("Table IV", "MS-ResNet20 parameters", paper.DVS_PARAMS))
    en = (results.get("energy") or {}).get("structure")
    measured = (results.get("energy") or {}).get("measured") or {}
    for model, p in paper.TABLE_V.items():
        name, s = paper_name(model), en["models"][model] if en else None
        prov = en and en.get("provenance")
        rows.append(Row("Table V", f"{name} FLOPs (residual-path MACs)", p["flops"], s and float(s["macs_residual"]),
                        "", prov, "structure"))
        rows.append(Row("Table V", f"{name} E(ANN)", p["e_ann_mj"],
                        s and s["macs_residual"] * paper.ENERGY_PJ["mac"] * 1e-9, "mJ", prov, "structure"))
        m = measured.get(model)
        for key, unit, words in (("syops", "", "SyOPs"), ("e_snn_mj", "mJ", "E(SNN)"),
                                 ("ratio", "", "E(ANN) / E(SNN)")):
            rows.append(Row("Table V", f"{name} {words}", p[key], m and m.get(key), unit, m and m.get("provenance"),
                            m and m.get("dataset") or ds, _measured_on(m)))
    for model, share in paper.EXCLUDED_FLOPS_SHARE.items():
        s = en["models"][model] if en else None
        rows.append(Row("Sec. IV-B", f"{paper_name(model)} share of MACs outside residual paths", share,
                        s and s["excluded_share"], "", en and en.get("provenance"), "structure"))
    fir = (results.get("firing") or {}).get("rates") or {}
    for model, rate in paper.FIRING_RATE.items():
        m = fir.get(model)
        rows.append(Row("Fig. 3", f"{paper_name(model)} network firing rate", rate, m and m["rate"], "",
                        m and m.get("provenance"), m and m.get("dataset") or ds, _measured_on(m)))
    s3 = _stage3_lif2_104((results.get("firing") or {}).get("firing"))
    rows.append(Row("Fig. 3", "MS-ResNet104 stage 3, second LIF rate", paper.FIRING_STAGE3_SECOND_LIF_104,
                    s3 and s3["rate"], "", s3 and s3["provenance"], s3["dataset"] if s3 else ds,
                    s3["note"] if s3 else ""))
    from msr.data import describe_dataset

    t6 = (results.get("shortcuts") or {}).get("table6") or {}
    ours_ds = sorted({k[0] for k in t6})
    for data, by_depth in paper.TABLE_VI.items():
        # our stand-in for CIFAR-10 is the profile's data set; CIFAR-100 only maps to itself
        mine = data if data in ours_ds else (next((d for d in ours_ds if d != "cifar100"), None)
                                             if data == "cifar10" else None)
        for depth, by_block in by_depth.items():
            for block, acc in by_block.items():
                r = t6.get((mine, block, depth))
                what = f"{describe_dataset(data)}, depth {depth}, {paper.SHORTCUT_NAMES[block]}"
                rows.append(Row("Table VI", what, acc, r["acc"] if r else None, "%",
                                r and r.get("provenance"), r["dataset"] if r else ds, _seeds_row(r)))
    tp = (results.get("two_phase") or {}).get("two_phase") or {}
    for key, acc in paper.TWO_PHASE.items():
        r = tp.get(key)
        rows.append(Row("Appendix B", f"MS-ResNet104 two-phase: {paper.TWO_PHASE_NAMES[key]}", acc,
                        r["acc"] if r else None, "%", r and r.get("provenance"), ds))
    from msr import neuron

    ours = {"tau": neuron.TAU, "v_th": neuron.V_TH, "v_reset": neuron.V_RESET, "a": neuron.SURROGATE_WIDTH}
    for key, val in paper.NEURON.items():
        if key in ours:
            rows.append(Row("Table VII", f"neuron {key} (library default)", val, ours[key], "", None, "code",
                            note="a setting, not a result"))
    return rows


def _seeds_row(r: dict | None) -> str:
    """A report note on the seeds behind a trained cell: "mean of 3 seeds, std 0.41" or "one seed"."""
    if not r:
        return ""
    n = r.get("n", 1)
    return f"mean of {n} seeds, std {r['std']:.2f}" if n > 1 and r.get("std") is not None else "one seed"


def _measured_on(m: dict | None) -> str:
    """A report note naming emulated event data a measured number comes from ("" otherwise)."""
    from msr.data import EMULATED_EVENTS

    ds = (m or {}).get("dataset")
    return f"measured on {EMULATED_EVENTS[ds]}, not CIFAR10-DVS" if ds in EMULATED_EVENTS else ""


def _stage3_lif2_104(firing_result: dict | None) -> dict | None:
    """Firing rate of the second LIF of every residual path in stage 3 (Fig. 3a, Sec. IV-B:
    5.2 % in MS-ResNet104) from a measured MS-ResNet104 of the firing chapter: the ImageNet
    model if measured, else the CIFAR-family one; None when neither is stored."""
    models = (firing_result or {}).get("models") or {}
    found = [m for m in models if m.startswith("imagenet_resnet104")] + \
            [m for m in models if m.startswith("cifar_resnet104")]
    for label in found:
        stage = next((st for st in models[label].get("stages", []) if st["stage"] == 2 and "lif2" in st), None)
        if stage is not None:
            return {"rate": stage["lif2"], "lif1": stage.get("lif1"), "label": label,
                    "dataset": models[label].get("dataset", ""),
                    "provenance": models[label].get("provenance", firing_result.get("provenance")),
                    "note": f"{paper_name(label)}; its first LIF: {stage['lif1']:.3f}" if "lif1" in stage
                    else paper_name(label)}
    return None
