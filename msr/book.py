"""Helpers the book's notebooks share: parameters, figure style, provenance captions,
tables beside the paper's values, and the "not computed yet" box.

A notebook is narrative plus a few calls into :mod:`msr.chapters` (compute), its
chapter's :mod:`msr.render` module (that chapter's figures and tables) and this module
(what every chapter shares).  Everything here renders; nothing here trains.

Labelling rules the helpers enforce:

* every figure carries a footer naming the profile, the data set, the hardware and the
  commit that produced it (from the stored provenance);
* values from :mod:`msr.paper` are labelled ``paper``; ours are labelled with the profile;
* an item the results store does not hold is shown as a warning box with the command
  that computes it, never as a blank or a copied value.
"""
from __future__ import annotations

import base64
import html
import math
import os
import re
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from msr.provenance import commit_of, date_of, hardware_of, is_commit

#: The parameters every chapter notebook takes (its first code cell, tagged ``parameters``).
PARAMETERS: dict[str, Any] = {
    "profile": "fmnist",
    "device": "cpu",
    "recompute": False,
    "render_only": False,
    "data_root": "data",
}
#: Names IPython puts into a kernel's namespace; never parameters.
_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}

ROOT = Path(os.environ.get("MSR_ROOT", Path(__file__).resolve().parents[1]))
FIGURES = ROOT / "figures"


class ParameterError(ValueError):
    """A notebook parameter is unknown, misspelt or impossible."""


def profile_names() -> list[str]:
    from msr.profiles import PROFILES

    return list(PROFILES)


def check_device(device: str, require: bool = True) -> str:
    """``cpu``, ``cuda``, ``cuda:N`` or ``auto``; ``auto`` picks CUDA when present.
    ``require=False`` (render-only runs, which never compute on it) accepts a CUDA
    device this machine lacks."""
    if not isinstance(device, str):
        raise ParameterError(f"device must be a string (cpu, cuda, cuda:N, auto), got {device!r}")
    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    base, _, idx = device.partition(":")
    if base not in ("cpu", "cuda") or (idx and not idx.isdigit()) or (base == "cpu" and idx):
        raise ParameterError(f"unknown device {device!r}; valid: cpu, cuda, cuda:N, auto")
    if base == "cuda" and require:
        import torch

        if not torch.cuda.is_available():
            raise ParameterError(f"device {device!r} asked for, but CUDA is not available here; use device='cpu'")
    return device


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ParameterError(f"parameter {name!r} must be true or false, got {value!r}")


@dataclass(frozen=True)
class Params:
    """The validated parameters of one notebook run."""

    profile: str
    device: str
    recompute: bool
    render_only: bool
    data_root: str
    extra: dict = field(default_factory=dict)


def check_parameters(values: dict[str, Any], extra_allowed: Iterable[str] = ()) -> Params:
    """Validate parameter values by name; unknown names and impossible values raise
    :class:`ParameterError` naming what is valid."""
    allowed = set(PARAMETERS) | set(extra_allowed)
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ParameterError(
            f"unknown parameter(s) {', '.join(map(repr, unknown))}; valid parameters: {', '.join(sorted(allowed))}"
        )
    v = {**PARAMETERS, **values}
    profiles = profile_names()
    if v["profile"] not in profiles:
        raise ParameterError(f"unknown profile {v['profile']!r}; valid profiles: {', '.join(profiles)}")
    recompute = _as_bool("recompute", v["recompute"])
    render_only = _as_bool("render_only", v["render_only"])
    if recompute and render_only:
        raise ParameterError("recompute and render_only cannot both be true (render_only never computes)")
    if not isinstance(v["data_root"], str) or not v["data_root"]:
        raise ParameterError(f"data_root must be a non-empty path, got {v['data_root']!r}")
    device = check_device(v["device"], require=not render_only)
    return Params(v["profile"], device, recompute, render_only, v["data_root"],
                  {k: v[k] for k in sorted(set(extra_allowed) & set(v))})


def parameters(namespace: dict[str, Any], extra: Iterable[str] = ()) -> Params:
    """Validate the parameters a notebook holds after papermill injected its own.

    Papermill only *warns* about a parameter the notebook does not declare and then
    defines it anyway; this looks at every public, non-module global of the notebook
    (call it before any import besides ``msr.book``), so ``-p profle smoke`` stops the
    notebook with a message naming the valid parameters.
    """
    values = {
        k: v for k, v in namespace.items()
        if not k.startswith("_") and k not in _IPYTHON_NAMES and not isinstance(v, types.ModuleType)
        and not callable(v)
    }
    return check_parameters(values, extra)


# ---------------------------------------------------------------- provenance ----
# hardware_of, commit_of, date_of: the readers of msr.provenance's schema (imported above).

def committed_in(path: str | os.PathLike) -> str | None:
    """The commit that first added ``path`` to the repository (None: not committed)."""
    import subprocess

    try:
        out = subprocess.run(["git", "log", "--diff-filter=A", "--format=%H", "--", str(path)], cwd=ROOT,
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = out.stdout.split()
    return lines[-1][:10] if out.returncode == 0 and lines and is_commit(lines[-1]) else None


def dataset_of(profile: str, experiment: str | None = None) -> str:
    """The data set a profile's runs use (from :mod:`msr.profiles`)."""
    from msr.profiles import get_profile

    p = get_profile(profile)
    for key in ("dataset", "data"):
        val = getattr(p, key, None) if not isinstance(p, dict) else p.get(key)
        if isinstance(val, str):
            return val
        if isinstance(val, dict) and experiment in val:
            return str(val[experiment])
    names = {"smoke": "synthetic / tiny subset", "fmnist": "Fashion-MNIST", "paper": "paper's data sets"}
    return names.get(profile, "?")


def dataset_name(names: str) -> str:
    """``fashion_mnist, cifar10`` -> ``Fashion-MNIST, CIFAR-10`` (:func:`msr.data.describe_dataset`;
    other text is shown as it is)."""
    from msr.data import describe_dataset

    return ", ".join(describe_dataset(n.strip()) for n in str(names).split(","))


def computed_on(prov: dict | None) -> str:
    """One result's hardware and commit, for a table cell beside it where a table holds
    results of several machines or commits (``AMD EPYC (2 threads) · 6f1dc33ed6``)."""
    from msr.provenance import commit_of, hardware_of

    return f"{hardware_of(prov)} · {commit_of(prov)}"


def provenance_line(profile: str, provs: Iterable[dict | None], dataset: str | None = None) -> str:
    """``profile smoke · data synthetic · hardware CPU ... · commit abc · 2025-..``
    for one or more stored results (distinct values are joined)."""
    provs = [p for p in provs if p]
    if not provs:
        return f"profile {profile} · data {dataset_name(dataset or dataset_of(profile))} · no stored results yet"

    def uniq(fn):
        vals = sorted({fn(p) for p in provs}) or ["unknown"]
        return ", ".join(vals[:3]) + (f" and {len(vals) - 3} more" if len(vals) > 3 else "")
    parts = [f"profile {profile}"]
    parts.append(f"data {dataset_name(dataset or dataset_of(profile))}")
    parts.append(f"hardware {uniq(hardware_of)}")
    parts.append(f"commit {uniq(commit_of)}")
    parts.append(f"date {uniq(lambda p: date_of(p)[:10])}")
    return " · ".join(parts)


# ---------------------------------------------------------------- rendering ----

PALETTE = {"plain": "#7f7f7f", "vanilla": "#d62728", "wolif": "#ff7f0e", "ms": "#1f77b4",
           "sr_a": "#1f77b4", "sr_b": "#2ca02c", "sr_c": "#9467bd", "paper": "#000000"}
BLOCK_LABELS = {"plain": "PlainNet", "vanilla": "Vanilla spiking ResNet", "wolif": "W/O interblock LIF",
                "ms": "MS-ResNet (SR-A)", "sr_a": "MS-ResNet (SR-A)", "sr_b": "SR-B", "sr_c": "SR-C"}


def use_style() -> None:
    """The one figure style of the book (seaborn, colour-blind palette, readable sizes):
    figures are drawn 6.4 inches wide, about the width of the book's column, so their
    fonts read at about the size of the text."""
    import matplotlib

    matplotlib.rcParams.update({"svg.hashsalt": "msr", "svg.fonttype": "none"})
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind",
                  rc={"figure.dpi": 100, "savefig.dpi": 150, "figure.figsize": (6.4, 4.0),
                      "font.size": 12, "axes.titlesize": 13, "axes.labelsize": 12, "xtick.labelsize": 11,
                      "ytick.labelsize": 11, "legend.fontsize": 10, "figure.titlesize": 14,
                      "savefig.bbox": "tight", "svg.hashsalt": "msr", "svg.fonttype": "none"})


def _figure_bytes(fig, fmt: str) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, **({"metadata": {"Date": None}} if fmt == "svg" else {}))
    return buf.getvalue()


class Output:
    """A rendered figure or table: HTML for the book (and Jupyter), text for a console."""

    def __init__(self, html_text: str, text: str):
        self.html, self.text = html_text, text

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": self.html, "text/plain": self.text}

    def __repr__(self) -> str:
        return self.text


def _wrap_titles(fig) -> None:
    """Break long titles into lines that fit their axes (or the figure), so that a title
    never widens the figure and the layout makes room for every line."""
    import textwrap

    width_in = fig.get_figwidth()
    texts = [(ax.title, ax.get_position().width * width_in) for ax in fig.axes if ax.get_title()]
    if getattr(fig, "_suptitle", None) is not None:
        texts.append((fig._suptitle, width_in))
    for text, inches in texts:
        chars = max(20, int(inches * 72 / (0.55 * text.get_fontsize())))
        text.set_text("\n".join(textwrap.fill(line, chars, break_on_hyphens=False)
                                 for line in text.get_text().split("\n")))


def save_figure(fig, name: str, profile: str, footer: str, command: str | None = None,
                paper_only: bool = False, *, what: str) -> Output:
    """Write ``figures/<profile>/<name>.png`` and ``.svg`` (``footer``, the provenance,
    stamped on them so a copy carries it) and return the figure for the book: an SVG at
    full column width captioned by ``what`` (one sentence: what the figure shows), then
    the provenance line and the command that regenerates it.  ``paper_only``: the figure
    holds only the paper's numbers, so say so."""
    import matplotlib.pyplot as plt

    if not isinstance(what, str) or not what.strip():
        plt.close(fig)
        raise ValueError(f"figure {name!r}: `what` must be a sentence saying what the figure shows")
    _wrap_titles(fig)
    try:
        fig.tight_layout(h_pad=1.6)
    except Exception:  # noqa: BLE001 - polar/complex layouts: keep matplotlib's own
        pass
    svg = _figure_bytes(fig, "svg")  # the book's copy: the provenance goes under it as text
    renderer = fig.canvas.get_renderer()  # a figure legend below the axes pushes the provenance line down
    low = min([0.0] + [leg.get_window_extent(renderer).y0 / fig.bbox.height for leg in fig.legends])
    stamp = fig.text(0.0, low - 0.01, footer, fontsize=7, color="#555555", ha="left", va="top",
                     transform=fig.transFigure, wrap=True)
    out = FIGURES / profile
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / f"{name}.png")
    fig.savefig(out / f"{name}.svg", metadata={"Date": None})
    stamp.remove()
    plt.close(fig)
    title = alt_text(fig, name)
    label = ('<strong class="msr-paper-only">Paper\'s numbers only: no result of ours is stored for this '
             "figure.</strong> " if paper_only else "")
    regen = f' · regenerate: <code>{html.escape(command)}</code>' if command else ""
    uri = "data:image/svg+xml;base64," + base64.b64encode(svg).decode()
    body = (f'<figure class="msr-figure"><img src="{uri}" alt="{html.escape(title)}"/>'
            f'<figcaption class="msr-provenance">{html.escape(what.strip())} {label}{html.escape(footer)}{regen}'
            "</figcaption></figure>")
    return Output(body, f"[figure {name}: figures/{profile}/{name}.svg]")


def alt_text(fig, name: str) -> str:
    """What a figure shows, for its ``alt`` text: its suptitle, else its panels' titles
    (each once), else ``name``."""
    sup = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) else ""
    titles = dict.fromkeys(" ".join(ax.get_title().split()) for ax in fig.axes)
    return sup or "; ".join(t for t in titles if t) or name


def md(text: str):
    """A MyST-markdown output (rendered by the book like page text)."""
    from IPython.display import Markdown

    return Markdown(text)


class _Plain:
    """A value whose only display is its text (glued, it reads in the page's prose). Its
    text/plain is the text as a Python string literal: myst-nb's ``{glue:text}`` evaluates
    what it pastes as a literal, which would print a number such as 1e-5 as 1e-05; a string
    literal comes back as exactly the text."""

    def __init__(self, text: str):
        self.text = text

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/plain": repr(self.text)}


def _glue(key: str, text: str) -> None:
    """Glue ``text`` under ``key`` for the page's prose (``{glue:text}`key```), not displayed here."""
    from myst_nb import glue

    glue(key, _Plain(text), display=False)


def paper_text(**values: float) -> dict[str, str]:
    """Glue paper values (from :mod:`msr.paper`) for the chapter's prose, printed as the paper
    prints them: ``book.paper_text(r34=paper.FIRING_RATE[...])`` lets the page's text read
    ``{glue:text}`paper_r34```, so no paper number is typed into a chapter.  Returns the texts."""
    texts = {}
    for name, value in values.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise TypeError(f"paper_text({name}=...): a number from msr.paper, not {type(value).__name__}")
        text = format(value, "g" if value == 0 or abs(value) >= 1e-3 else ".0e")
        texts[name] = re.sub(r"e([+-])0*(\d)", r"e\1\2", text)  # 1e-4, as the paper prints it
        _glue(f"paper_{name}", texts[name])
    return texts


def glue_text(**texts: str) -> None:
    """Glue texts msr computes (a recipe in words, :func:`msr.recipes.describe`) for the chapter's
    prose, which reads them as ``{glue:text}`text_<name>```, so that no page restates by hand
    what the code holds."""
    for name, text in texts.items():
        if not isinstance(text, str):
            raise TypeError(f"glue_text({name}=...): a str, not {type(text).__name__}")
        _glue(f"text_{name}", text)


def not_computed(name: str, profile: str, what: str = "this result") -> str:
    """The MyST box shown where the store holds nothing for an item."""
    return (
        ":::{admonition} Not computed yet\n:class: warning\n"
        f"The results store holds no `{profile}` result for {what}. Compute it with\n\n"
        f"`msr reproduce --profile {profile} --only {name}` "
        f"(or `msr compute {name} --profile {profile} --device cuda`).\n"
        ":::\n"
    )


def smoke_note(profile: str) -> str:
    if profile != "smoke":
        return ""
    return (":::{admonition} Smoke profile: these numbers mean nothing\n:class: caution\n"
            "The numbers and figures on this page come from the `smoke` profile: tiny models, T = 2, "
            "a few steps on synthetic or tiny data. They prove that the pipeline runs end to end and "
            "**mean nothing** about the paper's claims.\n:::\n")


def header(params: Params, chapter: str):
    """Markdown shown at the top of every chapter: the profile, data set and mode it was
    rendered with (hardware and commit stand under each figure and table) and, for smoke,
    the warning that its numbers mean nothing."""
    mode = "rendered from the results store" if params.render_only else (
        "recomputed" if params.recompute else "computed where the store lacked a result")
    text = (f"*Profile `{params.profile}` (its image experiments use {dataset_name(dataset_of(params.profile))}) "
            f"· {mode}. The data, hardware and commit of each result stand under its figure or table.*\n\n"
            + smoke_note(params.profile))
    return md(text)


def count(n: int | Iterable[int], noun: str, plural: str | None = None) -> str:
    """``n noun`` in words a reader expects: ``1 epoch``, ``10 epochs``; several values
    (``[1, 2]``) joined with "or" take the plural unless all are 1."""
    ns = [n] if isinstance(n, int) else list(n)
    many = any(x != 1 for x in ns)
    return f"{' or '.join(map(str, ns))} {(plural or noun + 's') if many else noun}"


def fmt(x: Any, digits: int = 2) -> str:
    """One table cell: ``—`` for missing, yes/no for booleans, thousands separators for
    integers, ``digits`` decimals (significant digits below 0.1, scientific from 10^6)."""
    import pandas as pd

    if x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    if isinstance(x, (float, np.floating)):
        x = float(x)
        if math.isinf(x):
            return "∞" if x > 0 else "−∞"
        if x != 0 and (abs(x) < 0.1 or abs(x) >= 1e6):
            text = f"{x:.{max(digits, 3)}g}"
            return re.sub(r"e([+-])0*(\d+)", lambda m: "e" + ("-" if m.group(1) == "-" else "") + m.group(2), text)
        return f"{x:,.{digits}f}"
    return str(x)


def acc_cell(r: dict | None, digits: int = 2):
    """A table cell of a trained accuracy over seeds (:func:`msr.chapters._runs.seed_summary`):
    ``"91.23 ± 0.41 (3)"`` for n > 1 seeds, ``"91.23 (1)"`` for one, ``(2 of 3)`` when
    seeds asked for are missing, ``"not run"`` for none."""
    if not r:
        return "not run"
    n, planned = r.get("n", 1), r.get("planned", r.get("n", 1))
    count = f"({n})" if planned <= n else f"({n} of {planned})"
    if n > 1 and r.get("std") is not None:
        return f"{r['acc']:.{digits}f} ± {r['std']:.{digits}f} {count}"
    return f"{r['acc']:.{digits}f} {count}"


#: caption note for tables of :func:`acc_cell` cells
SEEDS_CAPTION = "ours: mean ± std over seeds (n seeds in brackets; 1 of 3: one of the 3 seeds planned stored)"


def flat_frame(df):
    """``df`` with its index moved into columns (a reader never needs a row number)."""
    import pandas as pd

    if isinstance(df.index, pd.RangeIndex) and df.index.name is None:
        return df.reset_index(drop=True)
    return df.reset_index()


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _cell_html(text: str) -> str:
    """One cell's text as HTML: names break after an underscore; a short
    hyphenated name (``MS-ResNet-20``) never breaks inside; ``± std`` stays together."""
    out = html.escape(text).replace("_", "_<wbr>").replace(" ± ", " ±\u00a0")
    if "-" in text and " " not in text and len(text) <= 16:
        out = f'<span class="msr-word">{out}</span>'
    return out


def _is_paper_column(name: Any) -> bool:
    """A column of the paper's numbers (``paper ...``, ``...: paper``), not one that
    compares ours with them (``ours − paper``)."""
    low = str(name).lower()
    return "paper" in low and "ours" not in low


def table_html(df, name: str, caption: str, footer: str, digits: int | dict = 2, command: str | None = None,
               csv=None) -> str:
    """The HTML of a formatted table: no index, formatted cells (names breakable after an
    underscore, numbers never broken), the paper's columns or rows in grey italics, the
    caption above, the provenance line and a CSV download below.  ``digits``: decimals of
    every cell, or per column (default 2) an int or a list with one per row.  ``command``: the
    command that regenerates the table, after the provenance line (as under a figure).
    ``csv``: the frame the download holds where it is not ``df`` (``df`` with cells written
    out as text, ``csv`` with all decimals)."""
    import pandas as pd
    from pandas.io.formats.style import Styler

    raw = flat_frame(df)

    def cells(col):
        d = digits.get(col, 2) if isinstance(digits, dict) else digits
        vals = list(raw[col])
        per_row = list(d) if isinstance(d, (list, tuple)) else [d] * len(vals)
        nums = [v for v in vals if isinstance(v, (float, np.floating)) and not math.isnan(v)]
        if (nums and all(float(v).is_integer() for v in nums) and all(_is_number(v) or v is None for v in vals)
                and not isinstance(d, (list, tuple))):
            vals = [int(v) if isinstance(v, (float, np.floating)) and not math.isnan(v) else v for v in vals]
        return [_cell_html(fmt(v, k)) for v, k in zip(vals, per_row, strict=True)]
    label = {c: html.escape(str(c)).replace("_", "_<wbr>") for c in raw.columns}  # headers break like cells
    shown = pd.DataFrame({label[c]: cells(c) for c in raw.columns}, index=range(len(raw)))
    first = raw.iloc[:, 0] if len(raw.columns) else pd.Series(dtype=object)
    classes = pd.DataFrame(
        [[" ".join(k for k, on in (("msr-paper", _is_paper_column(c) or str(first.iloc[i]).startswith("paper")),
                                    ("msr-num", _is_number(raw.iloc[i, j]))) if on)
          for j, c in enumerate(raw.columns)] for i in range(len(raw))],
        columns=shown.columns, index=shown.index)
    sty = Styler(shown, uuid=re.sub(r"\W", "_", name), cell_ids=False).hide(axis="index")
    sty = sty.set_td_classes(classes).set_table_attributes('class="msr-table"')
    # a column of long texts keeps a readable width; numbers take what they need
    longest = {c: max([len(v) for v in raw[c] if isinstance(v, str)] or [0]) for c in raw.columns}
    long = {c: [{"selector": "td", "props": f"min-width: {7 if n > 24 else 4.5}em;"}]
            for c, n in longest.items() if n > 8}
    if long:
        sty = sty.set_table_styles({label[c]: v for c, v in long.items()}, overwrite=False)
    data = base64.b64encode((raw if csv is None else flat_frame(csv)).to_csv(index=False).encode()).decode()
    link = f'<a class="msr-csv" download="{name}.csv" href="data:text/csv;base64,{data}">CSV</a>'
    return (f'<div class="msr-table-wrap"><p class="msr-table-caption">{html.escape(caption)}</p>{sty.to_html()}'
            f'<p class="msr-provenance">{html.escape(footer)}'
            + (f' · regenerate: <code>{html.escape(command)}</code>' if command else "")
            + f' · download {link}</p></div>')


def table(df, name: str, profile: str, caption: str, footer: str, digits: int | dict = 2,
          command: str | None = None, csv=None) -> Output:
    """Write ``results/<profile>/tables/<name>.csv`` (all decimals, no index; ``csv`` where
    given, else ``df``) and return the formatted table (:func:`table_html`).  Columns from the
    paper are named ``paper ...``."""
    from msr.results import default_root

    out = default_root() / profile / "tables"
    out.mkdir(parents=True, exist_ok=True)
    flat_frame(df if csv is None else csv).to_csv(out / f"{name}.csv", index=False)
    return Output(table_html(df, name, caption, footer, digits, command, csv),
                  f"[table {name}: results/{profile}/tables/{name}.csv]")


#: How a claim row of each kind (msr.chapters.CLAIM_KINDS) reads: only ``evidence`` rows are
#: reproduction results; the others are checks that cannot tell us whether the paper holds.
CLAIM_VERDICTS = {
    "evidence": {True: "**shown** by our run", False: "**not shown** by our run", None: "**not run** yet"},
    "arithmetic": {True: "**agrees**", False: "**disagrees**", None: "**not run** yet"},
    "by construction": {True: "**holds**", False: "**fails**", None: "**not run** yet"},
}
CLAIM_LABELS = {"evidence": "evidence",
                "arithmetic": "arithmetic check, not a reproduction result",
                "by construction": "holds by construction, not a reproduction result"}


def verdict(shown: bool | None, kind: str = "evidence") -> str:
    """A computed claim status in words, for a claim of ``kind``."""
    if kind not in CLAIM_VERDICTS:
        raise ValueError(f"unknown claim kind {kind!r}; valid: {', '.join(CLAIM_VERDICTS)}")
    return CLAIM_VERDICTS[kind][shown]


def claim_md(paper: str, shown: bool | None, evidence: str, profile: str, kind: str = "evidence") -> str:
    verdict_text = verdict(shown, kind)  # validates kind
    return f"- *Paper:* {paper}  \n  *Ours ({profile}) [{CLAIM_LABELS[kind]}]:* {verdict_text} — {evidence}"


def claim_kind(claim: dict) -> str:
    """``evidence`` (a verdict on a reproduction), ``arithmetic`` or ``by construction``;
    a claim that does not say is evidence."""
    return claim.get("kind") or "evidence"


def verdict_counts(claims: list[dict]) -> dict:
    """How many evidence claims are shown, not shown and not run (:func:`claim_tally`);
    ``other``: the claims of the other kinds, which are not counted."""
    n = claim_tally(claims)
    return {"evidence": n["evidence"], "shown": n["shown"], "not shown": n["not shown"], "not run": n["not run"],
            "other": len(claims) - n["evidence"]}


#: The verdict badge of a claim of each kind (msr.chapters.CLAIM_KINDS): only ``evidence``
#: claims are shown or not shown; the other kinds are checks with words of their own.
VERDICTS = {
    "evidence": {True: "{bdg-success}`shown`", False: "{bdg-danger}`not shown`", None: "{bdg-muted}`not run`"},
    "arithmetic": {True: "{bdg-info}`agrees`", False: "{bdg-warning}`disagrees`", None: "{bdg-muted}`not run`"},
    "by construction": {True: "{bdg-info-line}`holds`", False: "{bdg-warning}`fails`",
                        None: "{bdg-muted}`not run`"},
}


def verdict_badge(claim: dict) -> str:
    """A claim's verdict badge (:data:`VERDICTS`); ``not judged yet`` where the verdict waits
    for runs but the claim holds a measurement already (``measured``: an untrained or early
    network, some of the depths it needs), so that the badge does not say "not run" beside
    measured numbers; then the claim's ``scope`` where it has one (``shown (at depth 482 only)``)."""
    kind = claim_kind(claim)
    badge = VERDICTS[kind][claim["shown"]]
    if claim["shown"] is None and claim.get("measured"):
        badge = "{bdg-muted}`not judged yet`"
    return badge + (f" ({claim['scope']})" if claim.get("scope") else "")


def _cell(text: Any) -> str:
    return " ".join(str(text).split())


def chapter_link(chapter: str) -> str:
    """A short MyST link to a chapter: ``ch. 2`` (its number in the book)."""
    from msr.chapters import CHAPTER_ORDER

    n = CHAPTER_ORDER.index(chapter) + 1 if chapter in CHAPTER_ORDER else None
    return f"{{doc}}`{'ch. ' + str(n) if n else chapter} <{chapter}>`"


def claims_table(claims: list[dict], link: bool = True, short: bool = False) -> str:
    """The paper's claims with our verdict, evidence and chapter, as a MyST list-table;
    with a ``Kind`` column when the claims carry kinds: only ``evidence`` rows say shown or
    not shown, arithmetic and by-construction rows say agrees / holds and are not counted.
    ``short``: each row gives its claim's ``key`` (the few numbers behind the verdict)
    where it has one, in place of the whole ``evidence`` that its chapter and the report
    give (the landing page)."""
    kinds = any("kind" in c for c in claims)
    head = ["The paper says"] + (["Kind"] if kinds else []) + ["Our verdict", "Our key number" if short else
                                                               "Our evidence"] + (["Chapter"] if link else [])
    widths = ([30] + ([12] if kinds else []) + [11, 47 - (12 if kinds else 0)] + ([10] if link else [])
              if link else [33] + ([12] if kinds else []) + [11, 56 - (12 if kinds else 0)])
    rows = [head]
    for c in claims:
        kind = claim_kind(c)
        if kind not in VERDICTS:
            raise ValueError(f"unknown claim kind {kind!r}; valid: {', '.join(VERDICTS)}")
        label = kind if kind == "evidence" else f"{kind} (not counted)"
        said = (c.get("key") or c["evidence"]) if short else c["evidence"]
        row = [_cell(c["paper"])] + ([label] if kinds else []) + [verdict_badge(c), _cell(said)]
        if link:
            row.append(chapter_link(c["chapter"]) if c.get("chapter") else "")
        rows.append(row)
    lines = ["::::{list-table}", ":header-rows: 1", f":widths: {' '.join(map(str, widths))}", ":class: msr-claims", ""]
    for row in rows:
        lines += [f"* - {row[0]}"] + [f"  - {x}" for x in row[1:]]
    return "\n".join(lines + ["::::", ""])


def verdict_md(claims: list[dict], profile: str) -> str:
    """One sentence: the verdicts of the evidence claims, counted; the other kinds named
    apart as checks that are not reproductions."""
    n = verdict_counts(claims)
    kinds = {k: sum(claim_kind(c) == k for c in claims) for k in VERDICTS if k != "evidence"}
    parts = ", ".join(f"{v} {'arithmetic check' if k == 'arithmetic' else 'holding by construction'}"
                      for k, v in kinds.items() if v)
    many = n["other"] > 1
    other = (f" {n['other']} more {'are checks, not reproductions' if many else 'is a check, not a reproduction'} "
             f"({parts}): listed with {'their' if many else 'its'} kind and not counted." if n["other"] else "")
    shown = [c for c in claims if claim_kind(c) == "evidence" and c.get("shown") is True]

    def share(k: int) -> str:  # how many of the shown tests, in words
        return "" if k == n["shown"] == 1 else "both " if k == n["shown"] == 2 else f"all {k} " if k == n["shown"] \
            else f"{k} of them "

    untrained, scoped = sum(bool(c.get("untrained")) for c in shown), sum(bool(c.get("scope")) for c in shown)
    quals = ([f"{share(untrained)}measured on untrained networks"] if untrained else []) + (
        [f"{share(scoped)}only where {'its badge says' if scoped == 1 else 'their badges say'}"] if scoped else [])
    on = f" ({'; '.join(quals)})" if quals else ""
    partial = sum(claim_kind(c) == "evidence" and c.get("shown") is None and bool(c.get("measured")) for c in claims)
    waiting = (f"{n['not run']} are not decided yet" + (f" ({n['not run'] - partial} not run, {partial} with "
                                                         "measurements but not the runs that decide them)"
                                                         if partial else ""))
    return (f"**Of {n['evidence']} tests of the paper's claims that a run can decide, our stored `{profile}` results "
            f"show {n['shown']}{on}, do not show {n['not shown']}, and {waiting}.**{other} A claim may be tested "
            "in more than one way; each test is one row.")


@dataclass(frozen=True)
class Page:
    """One chapter as the book renders it: its parameters and name, so every figure and
    table knows the profile it shows and the command that regenerates it."""

    params: Params
    chapter: str

    @property
    def profile(self) -> str:
        return self.params.profile

    def command(self) -> str:
        """The one command that re-renders this chapter (and so its figures and tables)."""
        return (f"msr reproduce --profile {self.profile} --only {self.chapter}"
                + (" --render-only" if self.params.render_only else ""))

    def header(self):
        return header(self.params, self.chapter)

    def figure(self, fig, name: str, footer: str, paper_only: bool = False, *, what: str) -> Output:
        """``what``: one sentence saying what the figure shows; it opens the caption."""
        return save_figure(fig, name, self.profile, footer, command=self.command(), paper_only=paper_only,
                           what=what)

    def table(self, df, name: str, caption: str, footer: str, digits: int | dict = 2, csv=None) -> Output:
        return table(df, name, self.profile, caption, footer, digits, command=self.command(), csv=csv)

    def box(self, what: str, needs: str | None = None):
        return box(self.chapter, self.profile, what, needs)

    def claims(self, claims: list[dict], link: bool = False):
        """The claims this chapter checks, as a table of verdicts."""
        return md(claims_table(claims, link=link))


def page(params: Params, chapter: str) -> Page:
    return Page(params, chapter)


def claim_tally(claims: list[dict]) -> dict:
    """Counts for the report: ``shown`` / ``not shown`` / ``not run`` over the ``evidence``
    claims only, and how many claims of the other kinds (checks, not results) there are."""
    ev = [c for c in claims if claim_kind(c) == "evidence"]
    other = {k: sum(claim_kind(c) == k for c in claims) for k in CLAIM_VERDICTS if k != "evidence"}
    return {"shown": sum(c["shown"] is True for c in ev), "not shown": sum(c["shown"] is False for c in ev),
            "not run": sum(c["shown"] is None for c in ev), "evidence": len(ev), **other}


def box(name: str, profile: str, what: str, needs: str | None = None):
    """The "not computed yet" box as a displayable; ``needs``: the chapter whose runs it reads."""
    text = not_computed(needs or name, profile, what)
    if needs:
        text = text.replace(":::\n", f"(This chapter analyses the runs of {chapter_link(needs)}; "
                                      f"then rerun `--only {name}`.)\n:::\n")
    return md(text)


def provs(*items) -> list:
    """Provenance records of stored results (dicts with a ``provenance`` key, and the
    ``provenances`` list of a result gathered from several), skipping None."""
    out = []
    for it in items:
        if isinstance(it, dict) and "provenance" in it:
            out.append(it["provenance"])
        elif isinstance(it, dict):
            out += [p for p in it.get("provenances") or [] if isinstance(p, dict)]
            out += provs(*(v for k, v in it.items() if k != "provenances"))
        elif isinstance(it, (list, tuple)):
            out += provs(*it)
    return out

