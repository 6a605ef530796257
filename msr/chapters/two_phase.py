"""Two-phase training (book chapter 11, Appendix B): T = 1 pretraining, those weights at
T = 6, then finetuning at T = 6."""
from __future__ import annotations

from typing import TYPE_CHECKING

from msr import paper
from msr.chapters._runs import acc_of, primary, train_runs
from msr.data import describe_dataset as dataset_name
from msr.models import paper_name

if TYPE_CHECKING:
    from msr.chapters import ChapterContext


def compute(ctx: ChapterContext) -> dict:
    """Chapter 11: T = 1 pretraining, those weights at T = 6, then finetuning at T = 6."""
    (c1, r1, _), (c2, r2, _) = train_runs(ctx, "two_phase", seeds=primary())[:2]
    res = {}
    # the T each accuracy is measured at: the runs' inference T; the T = 1 weights are
    # evaluated at the training T of the second phase (msr.train)
    if r1:
        res["T1_pretrained"] = {**acc_of(r1), "eval_T": c1.test_T or c1.T}
    if r2:
        r = acc_of(r2)
        res["finetuned_T6"] = {**r, "eval_T": c2.test_T or c2.T}
        if r2["final"].get("init_acc") is not None:
            res["T1_weights_at_T6"] = {**r, "acc": r2["final"]["init_acc"], "eval_T": c2.T}
    return {"two_phase": res, "model": paper_name(f"{c1.model}{c1.depth or ''}"),
            "dataset": dataset_name(c1.dataset),
            "claims": [_two_phase_claim(res)]}


def _two_phase_claim(res: dict) -> dict:
    """Shown when the T = 1 weights lose at most 1 point at T = 6 and finetuning beats both.
    ``res``: {"T1_pretrained", "T1_weights_at_T6", "finetuned_T6": {"acc": ...}}, any may be missing."""
    tp = paper.TWO_PHASE
    text = (f"T = 1 weights run at T = 6 without further training do not lose accuracy (the paper: a rise from "
            f"{tp['T1_pretrained']:g} to {tp['T1_weights_at_T6']:g} %; we allow a loss of 1 point, one seed), and "
            "finetuning at T = 6 improves on both (Appendix B)")
    keys = ("T1_pretrained", "T1_weights_at_T6", "finetuned_T6")
    if not all((res or {}).get(k) for k in keys):
        return {"paper": text, "shown": None, "evidence": "not run", "kind": "evidence"}
    a, b, c = (res[k]["acc"] for k in keys)
    return {"paper": text, "shown": b >= a - 1.0 and c > max(a, b), "kind": "evidence",
            "evidence": f"T = 1: {a:.2f} %, its weights at T = 6: {b:.2f} %, finetuned: {c:.2f} % (shown: the "
                        f"T = 1 weights lose at most 1 point at T = 6 and the finetuned model beats both); one seed"}
