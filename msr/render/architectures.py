"""Chapter 1, architectures: the block diagrams (Fig. 1, 2a, 6) and the tables of parameters,
MACs and stages as built.

Render step of ``book/notebooks/architectures.md``: :mod:`msr.chapters.architectures`
computes, this module draws (figures and tables from what its ``compute`` returned). The
shared pieces (style, figure saving, tables, boxes, provenance lines) come from
:mod:`msr.book`.
"""
from __future__ import annotations

from msr.book import BLOCK_LABELS

_KIND_STYLE = {"Conv": ("Conv 3x3", "#9ecae1"), "Norm": ("BN", "#a1d99b"), "LIF": ("LIF", "#fdae6b")}


def _input_label(flow: dict) -> str:
    """The label of a block's input, what it receives: membrane potential (the MS family),
    spikes (PlainNet, vanilla), or, for a block that takes spikes but emits a sum (W/O
    interblock LIF), spikes in the first block (from the stem's LIF) and the previous
    block's residual-plus-shortcut sum in every later one."""
    if not flow["spiking_input"]:
        return "input\n(membrane pot.)"
    return "input\n(spikes)" if flow["spiking_output"] else "input (spikes, or the\nprevious block's sum)"


def draw_block_flows(flows: dict, order=("plain", "vanilla", "wolif", "ms", "sr_b", "sr_c")):
    """Fig. 1 / 2a / 6: one panel per block type (three per row), drawn from the forward
    order traced on the module (:func:`msr.structure.block_flow`), not from a picture."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    order = [b for b in order if b in flows]
    ncol = min(3, len(order))
    nrow = -(-len(order) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(6.6, 5.6 * nrow), squeeze=False)
    # narrow margins and gaps: every panel title ("Vanilla spiking ResNet" the longest)
    # fits its panel on one line, so the titles of a row line up
    fig.subplots_adjust(left=0.01, right=0.99, wspace=0.04)
    for ax in axes.flat[len(order):]:
        ax.axis("off")
    for ax, name in zip(axes.flat, order, strict=False):
        f = flows[name]
        steps = f["path"] + (["+"] if f["shortcut"] else []) + f["post"]
        n = len(steps) + 2
        ys = {i: 1 - (i + 0.5) / n for i in range(n)}
        ax.text(0.45, ys[0] - 0.03, _input_label(f), ha="center", va="bottom", fontsize=10)
        prev = ys[0]
        for i, step in enumerate(steps, 1):
            y = ys[i]
            ax.annotate("", xy=(0.45, y + 0.035), xytext=(0.45, prev - 0.035),
                        arrowprops=dict(arrowstyle="->", lw=1.0, color="#333"))
            if step == "+":
                ax.text(0.45, y, "\u2295", ha="center", va="center", fontsize=18)
                # shortcut: branches off the input arrow below the input's label (a dot marks
                # the branch), runs round the right-hand side and into the adder
                y0 = (ys[0] + ys[1]) / 2
                ax.plot([0.45, 0.9, 0.9, 0.485], [y0, y0, y, y], color="#d62728", lw=1.2)
                ax.plot([0.45], [y0], "o", color="#d62728", ms=4)
                ax.text(0.95, (y0 + y) / 2, "shortcut", rotation=90, va="center", fontsize=9.5, color="#d62728")
            else:
                label, colour = _KIND_STYLE.get(f["kinds"].get(step, ""), (step, "#dddddd"))
                ax.add_patch(FancyBboxPatch((0.05, y - 0.03), 0.8, 0.06, boxstyle="round,pad=0.005",
                                            fc=colour, ec="#333", lw=0.8, transform=ax.transAxes))
                ax.text(0.45, y, f"{label} ({step})", ha="center", va="center", fontsize=10)
            prev = y
        out = "spikes" if f["spiking_output"] else "membrane pot."
        ax.annotate("", xy=(0.45, ys[n - 1] + 0.03), xytext=(0.45, prev - 0.035),
                    arrowprops=dict(arrowstyle="->", lw=1.0, color="#333"))
        ax.text(0.45, ys[n - 1], f"output\n({out})", ha="center", va="center", fontsize=10)
        ax.set_title(BLOCK_LABELS.get(name, name), fontsize=11)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.axis("off")
    fig.suptitle("Residual blocks as built: forward order traced on the modules", fontsize=12.5)
    return fig


def model_label(label: str) -> str:
    """A structure row's model in the paper's words: ``cifar_resnet20 (ms)`` ->
    ``MS-ResNet20``, ``cifar_resnet20 (wolif)`` -> ``W/O interblock LIF, 20 layers``
    (:data:`msr.book.BLOCK_LABELS`), ``dvs_resnet20`` -> ``MS-ResNet20 (DVS)``."""
    from msr.models import paper_name

    name, _, block = label.partition(" (")
    block = block.removesuffix(")")
    if not block or block in ("ms", "sr_a"):
        return paper_name(name)
    return f"{BLOCK_LABELS.get(block, block)}, {name.rpartition('_resnet')[2]} layers"


def models_frame(structure: dict):
    """Parameters and MACs of every model (ours, counted) beside the paper's (Table IV, V)."""
    import pandas as pd

    from msr import paper

    rows = []
    for r in structure["models"]:
        p = paper.TABLE_V.get(r["label"], {})
        rows.append({
            "model": model_label(r["label"]), "input": "x".join(map(str, r["input_size"])),
            "params (M)": r["params"] / 1e6,
            "paper params (M)": paper.DVS_PARAMS / 1e6 if r["label"] == "dvs_resnet20" else None,
            "residual MACs (M)": r["macs_residual"] / 1e6,
            "paper FLOPs (M)": p["flops"] / 1e6 if p else None,
            "encoding MACs (M)": r["macs_encoding"] / 1e6, "shortcut MACs (M)": r["macs_shortcut"] / 1e6,
            "total MACs (M)": r["macs_total"] / 1e6,
        })
    return pd.DataFrame(rows)


def stages_frame(shapes: list[dict], depth_check: bool = False, table_ix: bool = False):
    """A structure table as built (Table I / IX) from traced stage shapes; ``table_ix``: the
    stages also carry Table IX's names (stage 1 is its conv2, the stem its conv1)."""
    import pandas as pd

    rows = []
    for s in shapes:
        if s["stage"] == 0:
            rows.append({"stage": "stem (encoding layer)" + (", conv1" if table_ix else ""), "layers": 1,
                         "blocks": None,
                         "output (pixels)": s.get("output", ""), "channels": s.get("channels", ""),
                         "note": f"{s.get('kernel')}x{s.get('kernel')} conv, stride {s.get('stride')}"})
        else:
            rows.append({"stage": str(s["stage"]) + (f" (conv{s['stage'] + 1})" if table_ix else ""),
                         "layers": 2 * s["blocks"], "blocks": s["blocks"],
                         "output (pixels)": s["output"], "channels": s["channels"], "note": ""})
    df = pd.DataFrame(rows)
    df["blocks"] = df["blocks"].astype("Int64")  # whole numbers, the stem's left empty
    return df
