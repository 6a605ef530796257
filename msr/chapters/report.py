"""Report (book chapter 12): every number of the paper (NUMBERS.md, :mod:`msr.paper`)
beside ours where the store has it, and each of the paper's claims with its verdict."""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from msr import paper
from msr.chapters import degradation
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
    for chapter, res in results.items():
        for c in (res or {}).get("claims", []) if isinstance(res, dict) else []:
            out.append({**c, "chapter": chapter})
    return out


def compute(ctx: ChapterContext) -> dict:
    """Chapter 12: what the store holds for every chapter (never trains)."""
    from msr.chapters import collect

    return {"results": collect(ctx)}


#: What a row of the report is: ``result``, the paper's own number that a run can reproduce;
#: ``setting``, a constant of the method (Table VII), not a result; ``out of scope``, a cited
#: work's number (Table IV) or an ANN baseline (Table III), which no run of ours reproduces.
ROW_KINDS = ("result", "setting", "out of scope")

#: How a row stored in a unit is shown, as the paper prints it (Table V: 16.22 mJ but
#: 184.46 uJ, 3.53G and 40.11M; Table IV: 0.27M): (smallest paper value, scale, unit), the first
#: that the row's paper value reaches.
SHOWN_IN = {"mJ": ((1.0, 1.0, "mJ"), (0.0, 1e-3, "µJ")),
            "count": ((1e9, 1e9, "G"), (1e5, 1e6, "M"), (0.0, 1.0, ""))}


def shown_in(value: float | None, unit: str) -> tuple[float, str]:
    """The scale and unit a number stored in ``unit`` is shown in, chosen by its size (:data:`SHOWN_IN`)."""
    for least, scale, name in SHOWN_IN.get(unit, ()):
        if value is not None and abs(value) >= least:
            return scale, name
    return 1.0, unit


#: A paper value printed with at most this many significant figures (1 %, 0.16) is coarse: its
#: rounding alone moves ours / paper by more than 0.5 %.
COARSE_FIGURES = 2

#: The ``dataset`` of a row whose number of ours needs no training: counted on the model's
#: structure, a closed form or its simulation (Eq. 8); every other held number comes from a run.
UNTRAINED = {"structure": "structural", "analytic": "analytic", "simulated": "analytic"}


def decimals(value: float) -> int:
    """The decimals ``value`` is written with (0.225: 3, 90.0: 0, 184.46: 2)."""
    return max(0, -Decimal(f"{value:.12g}").normalize().as_tuple().exponent)


@dataclass
class Row:
    """One number of the paper beside ours (NUMBERS.md, from :mod:`msr.paper`). ``column``: the
    paper's other values of the same table column, which the paper prints at one precision
    (Table IV: 72.00 beside 75.56), so that the row shows as many decimals as its column."""

    section: str
    quantity: str
    paper: float | None
    ours: float | None = None
    unit: str = ""
    prov: dict | None = None
    dataset: str = ""
    note: str = ""
    column: tuple = ()
    kind: str = "result"
    paper_data: str = ""  # the data set the paper's number is on, where it is a trained accuracy

    def __post_init__(self):
        if self.kind not in ROW_KINDS:
            raise ValueError(f"unknown row kind {self.kind!r}; valid: {', '.join(ROW_KINDS)}")

    @property
    def shown(self) -> tuple[float, str]:
        """The scale and unit both numbers of the row are shown in, from the paper's value."""
        return shown_in(self.paper, self.unit)

    @property
    def paper_decimals(self) -> int:
        """The decimals the paper prints this number with, in the unit it is shown in
        (the most of its column, since ``msr.paper`` holds 72.00 as 72.0)."""
        return max([decimals(v / shown_in(v, self.unit)[0]) for v in (self.paper, *self.column) if v is not None]
                   or [0])

    @property
    def paper_figures(self) -> int:
        """The significant figures the paper prints this number with (0.225: 3, 1 %: 1, 90.0: 3; 0: 0)."""
        v = abs(self.paper or 0.0) / self.shown[0]
        return math.floor(math.log10(v)) + 1 + self.paper_decimals if v else 0

    @property
    def coarse(self) -> bool:
        """Whether the paper prints this number with at most :data:`COARSE_FIGURES` significant figures."""
        return 0 < self.paper_figures <= COARSE_FIGURES

    @property
    def paper_bounds(self) -> tuple[float, float] | None:
        """The values, in the unit shown, that round to the number the paper prints (1 %: 0.5 to 1.5 %)."""
        if self.paper is None:
            return None
        v, half = round(self.paper / self.shown[0], self.paper_decimals), 0.5 * 10.0 ** -self.paper_decimals
        return v - half, v + half

    def as_dict(self, profile: str) -> dict:
        """The row in the unit it is shown in, with all decimals (the paper's value rounded to
        the decimals it is printed with) and the decimals to print each number with."""
        run = self.ours is not None
        scale, unit = self.shown
        paper_v = None if self.paper is None else round(self.paper / scale, self.paper_decimals)
        ours = self.ours / scale if run else None
        delta = (ours - paper_v) if run and paper_v is not None else None
        return {"section": self.section, "quantity": self.quantity, "paper": paper_v,
                "ours": ours if run else "not run", "delta": delta, "unit": unit,
                "paper decimals": self.paper_decimals,
                "profile": profile if run else "", "data set": self.dataset if run else "",
                "hardware": hardware_of(self.prov) if run else "", "date": date_of(self.prov)[:10] if run else "",
                "commit": commit_of(self.prov) if run else "", "note": self.other_data(run)}

    @property
    def on_other_data(self) -> bool:
        """Whether ours is a trained accuracy on another data set than the paper's number (84.78 on
        Fashion-MNIST beside 82.0 on CIFAR-10): the two are not the same quantity, so their ratio
        measures the data sets as much as the method."""
        return bool(self.ours is not None and self.paper_data and self.dataset and self.dataset != self.paper_data)

    def other_data(self, run: bool) -> str:
        """The row's note, opened by the two data sets where ours is a trained accuracy on
        another data set than the paper's (:attr:`on_other_data`)."""
        from msr.data import describe_dataset

        if not (run and self.on_other_data):
            return self.note
        words = f"ours on {describe_dataset(self.dataset)}, the paper's on {describe_dataset(self.paper_data)}"
        return "; ".join(x for x in (words, self.note) if x)


def tally(rows: list[Row]) -> dict:
    """Counts for the report: ``results``, the paper's numbers a run can reproduce, of which
    the store ``holds`` some (``trained`` of them from a trained model, the others structural
    or analytic, :data:`UNTRAINED`) and the others are ``not run``; and how many rows are a
    ``setting`` or ``out of scope`` (:data:`ROW_KINDS`), which neither count includes, nor the
    rows where the paper gives no number (Table II's PlainNet at 56: ``no paper value``)."""
    res = [r for r in rows if r.kind == "result" and r.paper is not None]
    held = [r for r in res if r.ours is not None]
    return {"results": len(res), "holds": len(held), "not run": len(res) - len(held),
            "trained": sum(r.dataset not in UNTRAINED for r in held),
            "setting": sum(r.kind == "setting" for r in rows),
            "out of scope": sum(r.kind == "out of scope" for r in rows),
            "no paper value": sum(r.kind == "result" and r.paper is None for r in rows)}


def held_kinds(count: dict) -> str:
    """What the held numbers of :func:`tally` are, in words: "all structural or analytic; no
    trained result yet", "3 from trained models, 8 structural or analytic", "" for none."""
    trained, other = count["trained"], count["holds"] - count["trained"]
    if not count["holds"]:
        return ""
    if not trained:
        return "all structural or analytic; no trained result yet"
    if not other:
        return "all from trained models"
    return f"{trained} from trained models, {other} structural or analytic"


def report_rows(profile: str, results: dict) -> list[Row]:
    """Every number of NUMBERS.md (from :mod:`msr.paper`) with ours where a stored result has it."""
    ds = get_profile(profile).dataset
    rows: list[Row] = []
    deg = (results.get("degradation") or {}).get("table2") or {}
    col = tuple(a for by_depth in paper.TABLE_II.values() for a in by_depth.values() if a is not None)
    for block, by_depth in paper.TABLE_II.items():
        for depth, acc in by_depth.items():
            r = deg.get((block, depth))
            rows.append(Row("Table II", f"{paper.TABLE_II_LABELS[block]}, depth {depth}", acc,
                            r["acc"] if r else None, "%", r and r.get("provenance"), ds,
                            "; ".join(x for x in ("paper: N/A" if acc is None else "", _seeds_row(r)) if x), col,
                            paper_data="cifar10"))
    deep = (results.get("degradation") or {}).get("deep") or {}
    for depth, acc in paper.DEEP_CIFAR10.items():
        r = deep.get(("ms", depth))
        rows.append(Row("Sec. III-D", f"MS-ResNet{depth}", acc, r["acc"] if r else None, "%",
                        r and r.get("provenance"), ds, _seeds_row(r), paper_data="cifar10"))
    eq8 = (results.get("unavailing") or {}).get("eq8")
    rows.append(Row("Eq. 8", "P(state change), sigma = V_th (closed form)", paper.EQ8_PROBABILITY,
                    eq8["at_vth"]["analytic"] if eq8 else None, "", eq8 and eq8.get("provenance"), "analytic"))
    rows.append(Row("Eq. 8", "P(state change), sigma = V_th (Monte-Carlo)", paper.EQ8_PROBABILITY,
                    eq8["at_vth"]["monte_carlo"] if eq8 else None, "", eq8 and eq8.get("provenance"), "simulated"))
    bench_runs = results.get("benchmarks") or {}
    ours_in = {(b["model"], b["T"]): b["result"] for b in bench_runs.get("imagenet", []) if b["result"]}
    cited = paper.table_iii_cited()
    col = (*paper.TABLE_III.values(), paper.TABLE_III_104_AT_288, *paper.TABLE_III_ANN.values(),
           *(acc for *_, acc in cited))
    for (model, T), acc in paper.TABLE_III.items():
        r = ours_in.get((model, T))
        rows.append(Row("Table III", f"{paper_name(model)}, T = {T}", acc, r and r["acc"], "%",
                        r and r.get("provenance"), r["dataset"] if r else "", "needs ImageNet" if not r else "", col))
    rows.append(Row("Table III", f"{paper_name('imagenet_resnet104')}, 288x288 crops", paper.TABLE_III_104_AT_288,
                    None, "%", note="needs ImageNet", column=col))
    for model, acc in paper.TABLE_III_ANN.items():
        ann = paper_name(model).removeprefix("MS-")  # the ANN twin is a plain ResNet
        rows.append(Row("Table III", f"{ann}, ANN", acc, None, "%", note="ANN baseline, not in scope", column=col,
                        kind="out of scope"))
    for work, model, method, T, acc in cited:
        rows.append(Row("Table III", f"{work}: {model}, T = {T:g} ({method})", acc, None, "%",
                        note="cited work, not reproduced", column=col, kind="out of scope"))
    dvs_runs = bench_runs.get("dvs", [])
    dvs = next((b for b in dvs_runs if b["result"]), None)
    col = tuple(acc for *_, acc in paper.TABLE_IV)
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
                        r["dataset"] if r else "", note, col, "result" if ours else "out of scope"))
    arch = (results.get("architectures") or {}).get("structure")
    col = tuple(n for _, _, n, _ in paper.TABLE_IV if n is not None)
    if arch:
        by = {r["label"]: r for r in arch["models"]}
        rows.append(Row("Table IV", "MS-ResNet20 parameters", paper.DVS_PARAMS, float(by["dvs_resnet20"]["params"]),
                        "count", arch.get("provenance"), "structure", column=col))
    else:
        rows.append(Row("Table IV", "MS-ResNet20 parameters", paper.DVS_PARAMS, unit="count", column=col))
    en = (results.get("energy") or {}).get("structure")
    measured = (results.get("energy") or {}).get("measured") or {}
    col = {key: tuple(p[key] for p in paper.TABLE_V.values()) for key in ("flops", "e_ann_mj", "syops", "e_snn_mj",
                                                                              "ratio")}
    for model, p in paper.TABLE_V.items():
        name, s = paper_name(model), en["models"][model] if en else None
        prov = en and en.get("provenance")
        rows.append(Row("Table V", f"{name} FLOPs (residual-path MACs)", p["flops"], s and float(s["macs_residual"]),
                        "count", prov, "structure", column=col["flops"]))
        rows.append(Row("Table V", f"{name} E(ANN)", p["e_ann_mj"],
                        s and s["macs_residual"] * paper.ENERGY_PJ["mac"] * 1e-9, "mJ", prov, "structure",
                        column=col["e_ann_mj"]))
        m = measured.get(model)
        for key, unit, words in (("syops", "count", "SyOPs"), ("e_snn_mj", "mJ", "E(SNN)"),
                                 ("ratio", "", "E(ANN) / E(SNN)")):
            rows.append(Row("Table V", f"{name} {words}", p[key], m and m.get(key), unit, m and m.get("provenance"),
                            m and m.get("dataset") or ds, _measured_on(m), col[key]))
    for model, share in paper.EXCLUDED_FLOPS_SHARE.items():
        s = en["models"][model] if en else None
        rows.append(Row("Sec. IV-C", f"{paper_name(model)} share of MACs outside residual paths", share,
                        s and s["excluded_share"], "", en and en.get("provenance"), "structure"))
    fir = (results.get("firing") or {}).get("rates") or {}
    for model, rate in paper.FIRING_RATE.items():
        m = fir.get(model)
        rows.append(Row(paper.FIRING_RATE_SECTION[model], f"{paper_name(model)} network firing rate", rate,
                        m and m["rate"], "", m and m.get("provenance"), m and m.get("dataset") or ds, _measured_on(m)))
    s3 = _stage3_lif2_104((results.get("firing") or {}).get("firing"))
    rows.append(Row("Sec. IV-B", "MS-ResNet104 stage 3, second LIF rate", paper.FIRING_STAGE3_SECOND_LIF_104,
                    s3 and s3["rate"], "", s3 and s3["provenance"], s3["dataset"] if s3 else ds,
                    s3["note"] if s3 else ""))
    from msr.data import describe_dataset

    t6 = (results.get("shortcuts") or {}).get("table6") or {}
    ours_ds = sorted({k[0] for k in t6})
    col = tuple(a for by_depth in paper.TABLE_VI.values() for by_block in by_depth.values() for a in by_block.values())
    for data, by_depth in paper.TABLE_VI.items():
        # our stand-in for CIFAR-10 is the profile's data set; CIFAR-100 only maps to itself
        mine = data if data in ours_ds else (next((d for d in ours_ds if d != "cifar100"), None)
                                             if data == "cifar10" else None)
        for depth, by_block in by_depth.items():
            for block, acc in by_block.items():
                r = t6.get((mine, block, depth))
                what = f"{describe_dataset(data)}, depth {depth}, {paper.SHORTCUT_NAMES[block]}"
                rows.append(Row("Table VI", what, acc, r["acc"] if r else None, "%",
                                r and r.get("provenance"), r["dataset"] if r else ds, _seeds_row(r), col,
                                paper_data=data))
    tp = (results.get("two_phase") or {}).get("two_phase") or {}
    for key, acc in paper.TWO_PHASE.items():
        r = tp.get(key)
        rows.append(Row("Appendix B", f"MS-ResNet104 two-phase: {paper.TWO_PHASE_NAMES[key]}", acc,
                        r["acc"] if r else None, "%", r and r.get("provenance"), ds, paper_data="imagenet"))
    from msr import neuron

    ours = {"tau": neuron.TAU, "v_th": neuron.V_TH, "v_reset": neuron.V_RESET, "a": neuron.SURROGATE_WIDTH}
    for key, val in paper.NEURON.items():
        if key in ours:
            rows.append(Row("Table VII", f"neuron {key} (library default)", val, ours[key], "", None, "code",
                            note="a setting, not a result", kind="setting"))
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
        stages = models[label].get("stages", [])
        stage = next((st for st in stages if st["stage"] == 2 and "lif2" in st), None)
        if stage is not None:
            note = paper_name(label)
            if label.startswith("cifar"):  # the paper's stage 3 is the third of ImageNet ResNet-104's four
                note += (f", stage 3 of its {len(stages)} (a different network and stage from the paper's "
                         f"ImageNet model)")
            if "lif1" in stage:
                note += f"; its first LIF: {stage['lif1']:.3f}"
            return {"rate": stage["lif2"], "lif1": stage.get("lif1"), "label": label,
                    "dataset": models[label].get("dataset", ""),
                    "provenance": models[label].get("provenance", firing_result.get("provenance")),
                    "note": note}
    return None
