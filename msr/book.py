"""Helpers the book's notebooks share: parameters, figure style, provenance captions,
tables beside the paper's values, and the "not computed yet" box.

A notebook is narrative plus a few calls into :mod:`msr.chapters` (compute) and this
module (render).  Everything here renders; nothing here trains.

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

from msr.provenance import commit_of, date_of, hardware_of

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

def is_commit(value: Any) -> bool:
    """Whether ``value`` is a git commit hash (not ``HEAD``, ``unknown`` or empty)."""
    return isinstance(value, str) and re.fullmatch(r"[0-9a-f]{7,40}", value) is not None


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


def provenance_line(profile: str, provs: Iterable[dict | None], dataset: str | None = None) -> str:
    """``profile smoke · data synthetic · hardware CPU ... · commit abc · 2025-..``
    for one or more stored results (distinct values are joined)."""
    provs = [p for p in provs if p]
    if not provs:
        return f"profile {profile} · data {dataset_name(dataset or dataset_of(profile))} · no stored results yet"

    def uniq(fn):
        vals = sorted({fn(p) for p in provs}) or ["unknown"]
        return ", ".join(vals[:3]) + (f" (+{len(vals) - 3})" if len(vals) > 3 else "")
    parts = [f"profile {profile}"]
    parts.append(f"data {dataset_name(dataset or dataset_of(profile))}")
    parts.append(f"hardware {uniq(hardware_of)}")
    parts.append(f"commit {uniq(commit_of)}")
    parts.append(f"date {uniq(lambda p: date_of(p)[:10])}")
    return " · ".join(parts)


def local_provenance() -> dict:
    """Provenance of something computed right here (structure counts, analytic values)."""
    from msr.provenance import provenance

    return provenance()


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
                paper_only: bool = False) -> Output:
    """Write ``figures/<profile>/<name>.png`` and ``.svg`` (``footer``, the provenance,
    stamped on them so a copy carries it) and return the figure for the book: an SVG at
    full column width with the provenance line and the command that regenerates it
    underneath.  ``paper_only``: the figure holds only the paper's numbers, so say so."""
    import matplotlib.pyplot as plt

    _wrap_titles(fig)
    try:
        fig.tight_layout(h_pad=1.6)
    except Exception:  # noqa: BLE001 - polar/complex layouts: keep matplotlib's own
        pass
    svg = _figure_bytes(fig, "svg")  # the book's copy: the provenance goes under it as text
    stamp = fig.text(0.0, -0.01, footer, fontsize=7, color="#555555", ha="left", va="top",
                     transform=fig.transFigure, wrap=True)
    out = FIGURES / profile
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / f"{name}.png")
    fig.savefig(out / f"{name}.svg", metadata={"Date": None})
    stamp.remove()
    plt.close(fig)
    title = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) else name
    label = ('<strong class="msr-paper-only">Paper\'s numbers only: no result of ours is stored for this '
             "figure.</strong> " if paper_only else "")
    regen = f' · regenerate: <code>{html.escape(command)}</code>' if command else ""
    uri = "data:image/svg+xml;base64," + base64.b64encode(svg).decode()
    body = (f'<figure class="msr-figure"><img src="{uri}" alt="{html.escape(title)}"/>'
            f'<figcaption class="msr-provenance">{label}{html.escape(footer)}{regen}</figcaption></figure>')
    return Output(body, f"[figure {name}: figures/{profile}/{name}.svg]")


def md(text: str):
    """A MyST-markdown output (rendered by the book like page text)."""
    from IPython.display import Markdown

    return Markdown(text)


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
    text = (f"*Profile `{params.profile}` · data: {dataset_name(dataset_of(params.profile))} · {mode}. "
            "The hardware and commit of each result stand under its figure or table.*\n\n"
            + smoke_note(params.profile))
    return md(text)


def fmt(x: Any, digits: int = 2) -> str:
    """One table cell: ``—`` for missing, yes/no for booleans, thousands separators for
    integers, ``digits`` decimals (significant digits below 0.1, scientific from 10^6)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
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


def table_html(df, name: str, caption: str, footer: str, digits: int | dict = 2) -> str:
    """The HTML of a formatted table: no index, formatted cells (names breakable after an
    underscore, numbers never broken), the paper's columns or rows in grey italics, the
    caption above, the provenance line and a CSV download below."""
    import pandas as pd
    from pandas.io.formats.style import Styler

    raw = flat_frame(df)

    def cells(col):
        d = digits.get(col, 2) if isinstance(digits, dict) else digits
        vals = list(raw[col])
        nums = [v for v in vals if isinstance(v, (float, np.floating)) and not math.isnan(v)]
        if nums and all(float(v).is_integer() for v in nums) and all(_is_number(v) or v is None for v in vals):
            vals = [int(v) if isinstance(v, (float, np.floating)) and not math.isnan(v) else v for v in vals]
        return [_cell_html(fmt(v, d)) for v in vals]
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
    csv = base64.b64encode(raw.to_csv(index=False).encode()).decode()
    link = f'<a class="msr-csv" download="{name}.csv" href="data:text/csv;base64,{csv}">CSV</a>'
    return (f'<div class="msr-table-wrap"><p class="msr-table-caption">{html.escape(caption)}</p>{sty.to_html()}'
            f'<p class="msr-provenance">{html.escape(footer)} · download {link}</p></div>')


def table(df, name: str, profile: str, caption: str, footer: str, digits: int | dict = 2) -> Output:
    """Write ``results/<profile>/tables/<name>.csv`` (all decimals, no index) and return
    the formatted table (:func:`table_html`).  Columns from the paper are named ``paper ...``."""
    from msr.results import default_root

    out = default_root() / profile / "tables"
    out.mkdir(parents=True, exist_ok=True)
    flat_frame(df).to_csv(out / f"{name}.csv", index=False)
    return Output(table_html(df, name, caption, footer, digits), f"[table {name}: results/{profile}/tables/{name}.csv]")


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


def _cell(text: Any) -> str:
    return " ".join(str(text).split())


def chapter_link(chapter: str) -> str:
    """A short MyST link to a chapter: ``ch. 2`` (its number in the book)."""
    from msr.chapters import CHAPTER_ORDER

    n = CHAPTER_ORDER.index(chapter) + 1 if chapter in CHAPTER_ORDER else None
    return f"{{doc}}`{'ch. ' + str(n) if n else chapter} <{chapter}>`"


def claims_table(claims: list[dict], link: bool = True) -> str:
    """The paper's claims with our verdict, key number and chapter, as a MyST list-table;
    with a ``Kind`` column when the claims carry kinds: only ``evidence`` rows say shown or
    not shown, arithmetic and by-construction rows say agrees / holds and are not counted."""
    kinds = any("kind" in c for c in claims)
    head = ["The paper says"] + (["Kind"] if kinds else []) + ["Our verdict", "Our key number"] + (
        ["Chapter"] if link else [])
    widths = ([30] + ([12] if kinds else []) + [11, 47 - (12 if kinds else 0)] + ([10] if link else [])
              if link else [33] + ([12] if kinds else []) + [11, 56 - (12 if kinds else 0)])
    rows = [head]
    for c in claims:
        kind = claim_kind(c)
        if kind not in VERDICTS:
            raise ValueError(f"unknown claim kind {kind!r}; valid: {', '.join(VERDICTS)}")
        label = kind if kind == "evidence" else f"{kind} (not counted)"
        row = [_cell(c["paper"])] + ([label] if kinds else []) + [VERDICTS[kind][c["shown"]], _cell(c["evidence"])]
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
    return (f"**Of the paper's {n['evidence']} claims that a run can show, our stored `{profile}` results show "
            f"{n['shown']}, do not show {n['not shown']}, and {n['not run']} are not run yet.**{other}")


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

    def figure(self, fig, name: str, footer: str, paper_only: bool = False) -> Output:
        return save_figure(fig, name, self.profile, footer, command=self.command(), paper_only=paper_only)

    def table(self, df, name: str, caption: str, footer: str, digits: int | dict = 2) -> Output:
        return table(df, name, self.profile, caption, footer, digits)

    def box(self, what: str, needs: str | None = None):
        return box(self.chapter, self.profile, what, needs)

    def claims(self, claims: list[dict], link: bool = False):
        """The claims this chapter checks, as a table of verdicts."""
        return md(claims_table(claims, link=link))


def page(params: Params, chapter: str) -> Page:
    return Page(params, chapter)


# ------------------------------------------------------- chapter 1: structure ----

_KIND_STYLE = {"Conv": ("Conv 3x3", "#9ecae1"), "Norm": ("BN", "#a1d99b"), "LIF": ("LIF", "#fdae6b")}


def draw_block_flows(flows: dict, order=("plain", "vanilla", "wolif", "ms", "sr_b", "sr_c")):
    """Fig. 1 / 2a / 6: one panel per block type (three per row), drawn from the forward
    order traced on the module (:func:`msr.structure.block_flow`), not from a picture."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    order = [b for b in order if b in flows]
    ncol = min(3, len(order))
    nrow = -(-len(order) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(6.6, 5.6 * nrow), squeeze=False)
    for ax in axes.flat[len(order):]:
        ax.axis("off")
    for ax, name in zip(axes.flat, order, strict=False):
        f = flows[name]
        steps = f["path"] + (["+"] if f["shortcut"] else []) + f["post"]
        n = len(steps) + 2
        ys = {i: 1 - (i + 0.5) / n for i in range(n)}
        carried = "membrane pot." if not f["spiking_input"] else (
            "spikes" if f["spiking_output"] else "spikes / prev. sum")
        ax.text(0.45, ys[0], f"input\n({carried})", ha="center", va="center", fontsize=10)
        prev = ys[0]
        for i, step in enumerate(steps, 1):
            y = ys[i]
            ax.annotate("", xy=(0.45, y + 0.035), xytext=(0.45, prev - 0.035),
                        arrowprops=dict(arrowstyle="->", lw=1.0, color="#333"))
            if step == "+":
                ax.text(0.45, y, "\u2295", ha="center", va="center", fontsize=18)
                # shortcut: from the input around the right-hand side into the adder
                ax.plot([0.45, 0.9, 0.9, 0.485], [ys[0] - 0.03, ys[0] - 0.03, y, y], color="#d62728", lw=1.2)
                ax.text(0.95, (ys[0] + y) / 2, "shortcut", rotation=90, va="center", fontsize=9.5, color="#d62728")
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
        ax.set_title(BLOCK_LABELS.get(name, name), fontsize=12)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.axis("off")
    fig.suptitle("Residual blocks as built: forward order traced on the modules", fontsize=12.5)
    return fig


def models_frame(structure: dict):
    """Parameters and MACs of every model (ours, counted) beside the paper's (Table IV, V)."""
    import pandas as pd

    from msr import paper

    rows = []
    for r in structure["models"]:
        p = paper.TABLE_V.get(r["label"], {})
        rows.append({
            "model": r["label"], "input": "x".join(map(str, r["input_size"])),
            "params (M)": r["params"] / 1e6,
            "paper params (M)": paper.DVS_PARAMS / 1e6 if r["label"] == "dvs_resnet20" else None,
            "residual MACs (M)": r["macs_residual"] / 1e6,
            "paper FLOPs (M)": p["flops"] / 1e6 if p else None,
            "encoding MACs (M)": r["macs_encoding"] / 1e6, "shortcut MACs (M)": r["macs_shortcut"] / 1e6,
            "total MACs (M)": r["macs_total"] / 1e6,
        })
    return pd.DataFrame(rows)


def stages_frame(shapes: list[dict], depth_check: bool = False):
    """A structure table as built (Table I / IX) from traced stage shapes."""
    import pandas as pd

    rows = []
    for s in shapes:
        if s["stage"] == 0:
            rows.append({"stage": "stem (encoding layer)", "layers": 1, "blocks": None,
                         "output (pixels)": s.get("output", ""), "channels": s.get("channels", ""),
                         "note": f"{s.get('kernel')}x{s.get('kernel')} conv, stride {s.get('stride')}"})
        else:
            rows.append({"stage": str(s["stage"]), "layers": 2 * s["blocks"], "blocks": s["blocks"],
                         "output (pixels)": s["output"], "channels": s["channels"], "note": ""})
    return pd.DataFrame(rows)


# ---------------------------------------------------------- chapter 3: Eq. 8 ----

def plot_eq8(eq8: dict):
    """P(state change) against sigma: closed form (lines), Monte-Carlo (dots), paper's point."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from msr import paper

    df = pd.DataFrame(eq8["grid"])
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for rate, g in df.groupby("rate"):
        line, = ax.plot(g["sigma"], g["analytic"], label=f"Eq. 8, firing rate {rate:g}")
        ax.plot(g["sigma"], g["monte_carlo"], "o", ms=4, color=line.get_color(), label=f"Monte-Carlo, rate {rate:g}")
    ax.plot([paper.NEURON["v_th"]], [paper.EQ8_PROBABILITY], "k*", ms=13, label="paper: about 16 % at σ = V_th")
    ax.set_xlabel("σ of the residual F (V_th = 0.5)")
    ax.set_ylabel("P(block changes the firing state)")
    ax.legend(fontsize=9.5, ncol=2, loc="lower right")
    ax.set_title("Unavailing residuals (Eq. 7-8)")
    return fig


# ----------------------------------------------------------- chapter 12: report ----

def report_frame(rows: list, profile: str):
    """Every number of the paper beside ours; the provenance of ours in one column
    (the profile is the page's)."""
    import pandas as pd

    out = []
    for r in rows:
        d = r.as_dict(profile)
        src = " · ".join(x for x in (d["data set"] and dataset_name(d["data set"]), d["hardware"],
                                     d["commit"] and f"commit {d['commit']}", d["date"]) if x)
        out.append({"section": d["section"], "quantity": d["quantity"], "unit": d["unit"], "paper": d["paper"],
                    "ours": d["ours"], "ours − paper": d["delta"], "ours: data, hardware, commit, date": src,
                    "note": d["note"]})
    return pd.DataFrame(out)


def plot_report(df):
    """Every number we have beside the paper's, as ours / paper by section (1 = equal)."""
    import matplotlib.pyplot as plt
    import pandas as pd

    d = df[pd.to_numeric(df["ours"], errors="coerce").notna() & pd.to_numeric(df["paper"], errors="coerce").notna()]
    d = d[d["section"] != "Table VII"]
    ratio = pd.to_numeric(d["ours"]) / pd.to_numeric(d["paper"])
    sections = list(dict.fromkeys(d["section"]))
    fig, ax = plt.subplots(figsize=(6.4, 1.2 + 0.45 * max(len(sections), 3)))
    rng = np.random.default_rng(0)
    for i, s in enumerate(sections):
        for acc, colour, label in ((True, "#1f77b4", "accuracy (%), on our data set"),
                                   (False, "#ff7f0e", "counts, rates, energy")):
            sel = (d["section"] == s) & ((d["unit"] == "%") == acc)
            r = ratio[sel].to_numpy(dtype=float)
            if len(r):
                ax.plot(r, np.full(len(r), i) + rng.uniform(-0.15, 0.15, len(r)), "o", ms=6, alpha=0.75, color=colour,
                        label=label if label not in ax.get_legend_handles_labels()[1] else None)
    ax.axvline(1.0, color="k", lw=0.8, ls="--")
    ax.set_yticks(range(len(sections)))
    ax.set_yticklabels([f"{s} ({(d['section'] == s).sum()})" for s in sections], fontsize=10)
    ax.invert_yaxis()
    from matplotlib.ticker import FuncFormatter, NullFormatter

    if len(ratio) and (ratio.max() / max(ratio.min(), 1e-300) > 4):
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("ours / paper (log scale; 1 = the paper's value)")
    else:
        ax.set_xlabel("ours / paper (1 = the paper's value)")
    ax.set_title("Our numbers relative to the paper's")
    ax.legend(fontsize=9, loc="best")
    return fig


def claims_md(claims: list[dict], profile: str) -> Any:
    """The claims with our verdicts, as a table with each claim's kind (``profile``: kept
    for callers; :func:`claims_table`)."""
    return md(claims_table(claims, link=False))


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
        text = text.replace(":::\n", f"(This chapter analyses the runs of chapter `{needs}`; "
                                      f"then rerun `--only {name}`.)\n:::\n")
    return md(text)


def provs(*items) -> list:
    """Provenance records of stored results (dicts with a ``provenance`` key), skipping None."""
    out = []
    for it in items:
        if isinstance(it, dict) and "provenance" in it:
            out.append(it["provenance"])
        elif isinstance(it, dict):
            out += provs(*it.values())
        elif isinstance(it, (list, tuple)):
            out += provs(*it)
    return out


# ------------------------------------------------------ chapter 2: degradation ----

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
SEEDS_CAPTION = "ours: mean ± std over seeds (n seeds in brackets)"


def _errorbars(ax, points: list[tuple], color, label=None, fmt="o-", **kw):
    """``points``: [(x, summary)]: the mean with ± std bars and each seed's value as a small
    dot; ``kw``: line properties for :meth:`matplotlib.axes.Axes.errorbar`."""
    pts = sorted(points, key=lambda p: p[0])
    xs = [x for x, _ in pts]
    ax.errorbar(xs, [r["acc"] for _, r in pts], yerr=[r.get("std") or 0.0 for _, r in pts], fmt=fmt, color=color,
                capsize=3, label=label, **kw)
    seeds = [(x, a) for x, r in pts if r.get("n", 1) > 1 for a in r.get("accs", ())]
    if seeds:
        ax.plot(*zip(*seeds, strict=True), ".", color=color, alpha=0.4, markersize=4)


def accuracy_frame(table: dict, paper_table: dict, labels: dict, depths=None):
    """Rows: depth; per block type the columns ``<model>: ours`` and ``<model>: paper``
    (test accuracy, %; Table II and Sec. III-D)."""
    import pandas as pd

    depths = depths or sorted({d for _, d in table} | {d for v in paper_table.values() for d in v})
    rows = []
    for d in depths:
        row = {"depth": d}
        for block, label in labels.items():
            r = table.get((block, d))
            row[f"{label}: ours"] = acc_cell(r)
            row[f"{label}: paper"] = paper_table.get(block, {}).get(d)
        rows.append(row)
    return pd.DataFrame(rows)


def ablation_frame(table2: dict, ablation: dict, labels: dict, depths=None):
    """The gamma2 = 0 ablation beside Table II: one row per (block, gamma2), columns by
    depth; ``table2``/``ablation``: {(block, depth): {"acc": ...} or None}."""
    import pandas as pd

    depths = depths or sorted({d for _, d in table2} | {d for _, d in ablation})
    rows = []
    for block, label in labels.items():
        for name, table in ((f"{label}, gamma2 = 1 (Table II run)", table2), (f"{label}, gamma2 = 0", ablation)):
            row = {"model": name}
            for d in depths:
                r = table.get((block, d))
                row[f"ours {d}"] = acc_cell(r)
            rows.append(row)
    return pd.DataFrame(rows)


def _log_depth_axis(ax, xs, legend_below: bool = False) -> None:
    if xs:
        ax.set_xscale("log")
        ax.set_xticks(xs)
        ax.set_xticklabels([str(x) for x in xs])
        ax.minorticks_off()
    ax.set_xlabel("depth (layers)")
    ax.set_ylabel("test accuracy (%)")
    if ax.get_legend_handles_labels()[0]:
        if legend_below:  # error bars and seed dots fill the axes: the legend goes under them
            ax.legend(fontsize=9.5, loc="upper center", bbox_to_anchor=(0.5, -0.24), ncol=2, frameon=False)
        else:
            ax.legend(fontsize=10)


def _depth_panel(ax, series: dict, labels: dict, style: str, colours: dict | None = None):
    """One panel of accuracy against depth: ``series`` {block: [(depth, value)]}, where a
    value is a number (the paper's) or a seed summary (ours: mean ± std, seeds as dots)."""
    for block, label in labels.items():
        pts = series.get(block, [])
        colour = (colours or PALETTE).get(block)
        if pts and isinstance(pts[0][1], dict):
            _errorbars(ax, pts, colour, label, fmt=style, lw=1.8, ms=6)
        elif pts:
            ax.plot(*zip(*sorted(pts), strict=True), style, color=colour, label=label, lw=1.8, ms=6)
    ours = any(pts and isinstance(pts[0][1], dict) for pts in series.values())
    _log_depth_axis(ax, sorted({d for pts in series.values() for d, _ in pts}), legend_below=ours)


def seeds_title(table: dict) -> str:
    """What a panel of ours draws: mean ± std over seeds when any point has several."""
    several = any((r or {}).get("n", 1) > 1 for r in table.values())
    return ": mean ± std over seeds, dots single seeds" if several else ""


def plot_depth(table: dict, paper_table: dict, labels: dict, title: str, ours_label: str = "ours",
               paper_label: str = "paper (CIFAR-10)"):
    """Accuracy against depth per block type: ours (solid, mean ± std over seeds with each
    seed as a small dot) above the paper's (dashed, squares), one panel each (their data
    sets differ).  With no run of ours stored the figure holds the paper's panel alone and
    says so in its title."""
    import matplotlib.pyplot as plt

    ours = {}
    for (b, d), r in table.items():
        if r and r.get("acc") is not None:
            ours.setdefault(b, []).append((d, r))
    paper_pts = {b: [(d, a) for d, a in v.items() if a is not None] for b, v in paper_table.items()}
    panels = ([(ours_label + seeds_title(table), ours, "o-")] if ours else []) + [(paper_label, paper_pts, "s--")]
    fig, axes = plt.subplots(len(panels), 1, figsize=(6.4, 3.9 * len(panels) + (0.8 if ours else 0)), squeeze=False)
    for ax, (name, series, style) in zip(axes[:, 0], panels, strict=False):
        _depth_panel(ax, series, labels, style)
        ax.set_title(name)
    fig.suptitle(title if ours else f"{title}: the paper's numbers only, no run of ours stored")
    return fig


# ------------------------------------------------------- chapter 3: trained ----

def plot_ssim(series: dict):
    import matplotlib.pyplot as plt

    from msr.analysis.ssim import plot_ssim_radar

    fig, axes = plt.subplots(2, 1, figsize=(6.2, 11.5), subplot_kw={"projection": "polar"})
    for ax, depth in zip(axes, (44, 56), strict=False):
        s = {f"{'vanilla' if k.startswith('vanilla') else 'MS'} ResNet-{depth}": v["ssim"]
             for k, v in series.items() if k.endswith(f"-{depth}")}
        if s:
            plot_ssim_radar(ax, s)
        ax.set_title(f"depth {depth}: SSIM of consecutive blocks", fontsize=12.5, pad=18)
    return fig


def plot_state_change(rows_by_label: dict, eq8: float):
    import matplotlib.pyplot as plt

    from msr.analysis.unavailing import plot_state_changes

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    plot_state_changes(ax, rows_by_label, eq8=eq8)
    ax.set_title("How often a vanilla block changes a neuron's firing state")
    return fig


# ------------------------------------------------------ chapter 4: isometry ----

def plot_isometry(rows: list[dict]):
    """Gradient norm per block at initialisation (vanilla, MS) and mean phi against depth,
    stacked."""
    import matplotlib.pyplot as plt

    init = [r for r in rows if r["state"] == "init"]
    fig, axes = plt.subplots(3, 1, figsize=(6.4, 11))
    for ax, block in zip(axes[:2], ("vanilla", "ms"), strict=False):
        for r in sorted((r for r in init if r["block"] == block), key=lambda r: r["depth"]):
            g = np.asarray(r["grad_norms"], dtype=float)
            ax.plot(np.linspace(0, 1, len(g)), np.where(g > 0, g, np.nan), label=f"depth {r['depth']}")
        ax.set_yscale("log")
        ax.set_title(f"{BLOCK_LABELS[block]} at initialisation")
        ax.set_xlabel("relative block position (input = 0)")
        ax.set_ylabel("‖dL / dx_i‖")
        ax.legend(fontsize=9, ncol=2)
    for block in ("vanilla", "ms"):
        pts = sorted((r["depth"], float(np.mean(r["phi"]))) for r in init if r["block"] == block and r.get("phi"))
        if pts:
            axes[2].plot(*zip(*pts, strict=True), "o-", color=PALETTE[block], label=BLOCK_LABELS[block])
    axes[2].axhline(1.0, color="k", lw=0.8, ls="--", label="isometry: φ = 1")
    axes[2].set_xscale("log")
    depths = sorted({r["depth"] for r in init})
    if depths:
        axes[2].set_xticks(depths)
        axes[2].set_xticklabels([str(d) for d in depths])
        axes[2].minorticks_off()
    axes[2].set_xlabel("depth (layers)")
    axes[2].set_ylabel("mean φ(J Jᵀ) over blocks")
    axes[2].set_title("Block dynamical isometry against depth")
    axes[2].legend(fontsize=10)
    return fig


# ---------------------------------------------------- chapter 5: benchmarks ----

def benchmark_frames(R: dict, profile: str):
    """Table III and IV: the paper's rows (labelled paper or cited) and ours."""
    import pandas as pd

    from msr import paper

    def ours(exp, model):
        for b in R.get(exp, []):
            if b["model"] == model:
                if b["result"]:
                    return b["result"]["acc"], b
                return "not run: " + ("data missing" if str(b["why"]).startswith("data missing") else str(b["why"])), b
        return "not in this profile's sweep", None

    rows = [{"method": m, "work": w, "model": mo, "T": t, "paper / cited top-1 (%)": a, "ours top-1 (%)": ""}
            for m, w, mo, t, a in paper.TABLE_III_OTHERS]
    for (model, T), acc in paper.TABLE_III.items():
        o, b = ours("imagenet", model)
        rows.append({"method": "direct training", "work": "MS-ResNet (paper)", "model": model, "T": str(T),
                     "paper / cited top-1 (%)": acc,
                     "ours top-1 (%)": o if b is None or b["T"] == T else f"{fmt(o)} (T = {b['T']})"})
    rows.append({"method": "direct training", "work": "MS-ResNet (paper)", "model": "imagenet_resnet104, 288 px",
                 "T": "5", "paper / cited top-1 (%)": paper.TABLE_III_104_AT_288,
                 "ours top-1 (%)": "not in this profile's sweep"})
    t3 = pd.DataFrame(rows)
    o, b = ours("dvs", "dvs_resnet20")
    rows = [{"work": w, "method": m, "params (M)": (p / 1e6 if p else None), "paper / cited top-1 (%)": a,
             "ours top-1 (%)": o if w == "paper" else "", "our data": (b or {}).get("data", "") if w == "paper" else ""}
            for w, m, p, a in paper.TABLE_IV]
    return t3, pd.DataFrame(rows)


def benchmark_commands(R: dict) -> str:
    """Markdown: the command that trains each benchmark run that is not stored."""
    cmds = sorted({b["command"] for e in R.values() for b in e if not b["result"]})
    whys = sorted({str(b["why"]).split(":")[0] for e in R.values() for b in e if not b["result"] and b["why"]})
    if not cmds:
        return ""
    return (f"Runs not stored ({', '.join(whys)}) are trained with " + " and ".join(f"`{c}`" for c in cmds)
            + " on a machine with the data.")


def _cited_points() -> list[tuple[str, str, float, float]]:
    """Table III's cited works as (work, method, T, top-1) points, one per model."""
    from msr import paper

    pts = []
    for method, work, _, ts, accs in paper.TABLE_III_OTHERS:
        t, a = [float(x) for x in ts.split(" / ")], [float(x) for x in accs.split(" / ")]
        t = t * len(a) if len(t) == 1 else t
        pts += [(work, method, ti, ai) for ti, ai in zip(t, a, strict=True)]
    return pts


def plot_benchmarks(R: dict, ours_label: str):
    """Top: ImageNet top-1 against timesteps T (Table III): the paper's MS-ResNets, the
    cited works and ours apart.  Bottom: CIFAR10-DVS top-1 (Table IV), ours apart."""
    import matplotlib.pyplot as plt

    from msr import paper

    fig, (ax, bx) = plt.subplots(2, 1, figsize=(6.4, 9.5), gridspec_kw={"height_ratios": [1.25, 1]})
    for method, marker in (("ANN conversion", "^"), ("direct training", "o")):
        pts = [(t, a) for w, m, t, a in _cited_points() if m == method]
        ax.plot(*zip(*pts, strict=True), marker, color="#8c8c8c", ms=7, ls="none", label=f"cited works: {method}")
    for i, (w, _m, t, a) in enumerate(_cited_points()):  # alternate above / below: close points stay legible
        ax.annotate(w.split(" ")[0].rstrip(","), (t, a), xytext=(4, 3 if i % 2 else -12), textcoords="offset points",
                    fontsize=9, color="#555")
    pp = sorted((T, acc, model) for (model, T), acc in paper.TABLE_III.items())
    ax.plot([p[0] for p in pp], [p[1] for p in pp], "ks", ms=8, label="MS-ResNet, paper")
    for T, acc, model in pp:
        ax.annotate(model.replace("imagenet_resnet", "ResNet-"), (T, acc), xytext=(6, -4), textcoords="offset points",
                    fontsize=10)
    ours = [(b["T"], b["result"]["acc"], b["model"]) for b in R.get("imagenet", []) if b["result"]]
    if ours:
        ax.plot([o[0] for o in ours], [o[1] for o in ours], "*", color="#d62728", ms=14, ls="none",
                label=ours_label)
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("timesteps T (log scale)")
    ax.set_ylabel("ImageNet top-1 (%)")
    ax.set_title("Table III: accuracy against timesteps" + ("" if ours else " (no run of ours stored)"))
    ax.legend(fontsize=9.5, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    works = [(f"{w}: {m}", a, w == "paper") for w, m, _, a in paper.TABLE_IV]
    dvs = next((b for b in R.get("dvs", []) if b["result"]), None)
    if dvs:
        works.append((f"ours on {dvs['data']}" if dvs.get("data") else ours_label, dvs["result"]["acc"], None))
    ys = np.arange(len(works))[::-1]
    colours = ["#d62728" if p is None else ("#000000" if p else "#8c8c8c") for _, _, p in works]
    bx.scatter([a for _, a, _ in works], ys, c=colours, s=[160 if p is None else 70 for _, _, p in works],
               marker="o", zorder=3)
    lo, hi = min(a for _, a, _ in works), max(a for _, a, _ in works)
    for y, (name, a, _) in zip(ys, works, strict=True):  # names beside the dots: the axes keep the figure's width
        right = a < (lo + hi) / 2
        bx.annotate(f"{name}: {a:.2f}" if right else f"{name}: {a:.2f}", (a, y), xytext=(9 if right else -9, 0),
                    textcoords="offset points", va="center", ha="left" if right else "right", fontsize=10)
    bx.set_yticks([])
    bx.set_ylim(-0.7, len(works) - 0.3)
    bx.set_xlim(lo - 0.08 * (hi - lo + 1), hi + 0.08 * (hi - lo + 1))
    bx.set_xlabel("CIFAR10-DVS top-1 (%)")
    bx.set_title("Table IV: CIFAR10-DVS" + ("" if dvs else " (no run of ours stored)"))
    return fig


def plot_event_frames(ex: dict, max_frames: int = 10, per_row: int = 5):
    """Emulated DVS samples (:func:`msr.data.emulated_examples`): per sample, the source
    image, then its event frames (equal event count each), ``per_row`` frames to a row so
    the figure keeps the column's width; ON events orange, OFF events blue."""
    import matplotlib.pyplot as plt

    frames = np.asarray(ex["frames"])  # [n, T, 2, S, S]
    n, T = frames.shape[:2]
    shown = min(T, max_frames)
    ncol = per_row  # the same cell size at any T
    lines = -(-shown // ncol)  # rows of frames per sample
    on_c, off_c = np.array([0.90, 0.62, 0.0]), np.array([0.0, 0.45, 0.70])  # colour-blind safe pair
    fig, axes = plt.subplots(n * lines, ncol + 1, figsize=(6.4, 6.4 / (ncol + 1) * 1.12 * n * lines + 0.8),
                             squeeze=False)
    for i in range(n):
        scale = max(float(np.percentile(frames[i][frames[i] > 0], 99)) if (frames[i] > 0).any() else 1.0, 1.0)
        src = axes[i * lines, 0]
        src.imshow(ex["images"][i], cmap="gray", vmin=0, vmax=255)
        src.set_title(f"{ex['classes'][i]}", fontsize=9)
        src.set_xlabel(f"{ex['counts'][i]:,} events", fontsize=8.5)
        for k in range(shown):
            ax = axes[i * lines + k // ncol, 1 + k % ncol]
            on = np.clip(frames[i, k, 1] / scale, 0, 1)[..., None]
            off = np.clip(frames[i, k, 0] / scale, 0, 1)[..., None]
            rgb = np.clip(1.0 - on * (1.0 - on_c) - off * (1.0 - off_c), 0, 1)
            ax.imshow(rgb, interpolation="nearest")
            ax.set_title(f"frame {k + 1}", fontsize=8.5)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        if not ax.images:
            ax.axis("off")
    p = ex["params"]
    fig.suptitle(f"{ex['label']}: T = {T} frames of equal event count (ON orange, OFF blue); "
                 f"{p['sensor']}x{p['sensor']} sensor, C = {p['threshold']}, saccades of {p['amplitude']:g} px "
                 f"x 3 x {p['move_ms']:g} ms", fontsize=10.5)
    return fig


# ------------------------------------------------------- chapter 6: energy ----

def energy_frame(rows: list[dict]):
    """Table V transposed: one row per quantity, one column per model (fits a page)."""
    import pandas as pd

    df = pd.DataFrame(rows).set_index("model").T
    df.index.name = "quantity"
    return df


def measured_energy_frame(measured: dict):
    """Energy from our measured firing rates: one row per quantity, one column per model."""
    import pandas as pd

    from msr import paper

    rows = {}
    for label, m in measured.items():
        p = paper.TABLE_V.get(label, {})
        rows[label] = {"data": dataset_name(m["dataset"]), "training": m.get("budget"), "T": m["T"],
                       "counted per": "frame" if m.get("per_frame") else "sample",
                       "our firing rate": m["rate"], "paper firing rate": p.get("rate"),
                       "our MACs (M)": m["flops"] / 1e6, "our SyOPs (M)": m["syops"] / 1e6,
                       "our E(ANN) (mJ)": m["e_ann_mj"], "our E(SNN) (mJ)": m["e_snn_mj"],
                       "our E(ANN) / E(SNN)": m["ratio"], "our ratio, per-conv rates": m["ratio_measured"],
                       "paper E(ANN) / E(SNN)": p.get("ratio")}
    df = pd.DataFrame(rows)
    df.index.name = "quantity"
    return df


def plot_energy(rows: list[dict], measured: dict | None = None):
    """Energy per sample (mJ, log scale; per frame for event data) of the ANN and the SNN:
    the paper's and ours per model of Table V, then our measured models."""
    import matplotlib.pyplot as plt

    frame = " (per frame)"  # event data: both sides counted per frame (Sec. IV-C)
    cats = [(r["model"] + (frame if r["model"].startswith("dvs") else ""), r.get("paper E(ANN) mJ"),
             r.get("our E(ANN) mJ"), r.get("paper E(SNN) mJ"), r.get("our E(SNN) mJ")) for r in rows]
    cats += [(k + (frame if m.get("per_frame") else ""), None, m["e_ann_mj"], None, m["e_snn_mj"])
             for k, m in (measured or {}).items()]
    fig, ax = plt.subplots(figsize=(6.4, 4.2 + 0.3 * len(cats)))
    series = [("paper E(ANN)", 1, "#bdbdbd", "//"), ("ours E(ANN)", 2, "#6baed6", None),
              ("paper E(SNN)", 3, "#737373", "//"), ("ours E(SNN)", 4, "#08519c", None)]
    h = 0.2
    ys = np.arange(len(cats))[::-1]
    for j, (label, k, colour, hatch) in enumerate(series):
        vals = [c[k] if c[k] is not None else np.nan for c in cats]
        ax.barh(ys + (1.5 - j) * h, vals, height=h, color=colour, hatch=hatch, edgecolor="white", label=label)
    ax.set_xscale("log")
    ax.set_yticks(ys)
    ax.set_yticklabels([c[0].replace(" (", "\n(") for c in cats], fontsize=10)
    ax.set_xlabel("energy per sample or frame (mJ, log scale; 4.6 pJ per MAC, 0.9 pJ per AC)")
    ax.set_title("Table V: energy of the ANN and the SNN")
    ax.legend(fontsize=10, loc="lower right")
    return fig


# ------------------------------------------------------- chapter 7: firing ----

def plot_firing(models: dict, rasters: dict):
    """Per model: firing rate per block and LIF (Fig. 3a) above the spike raster (Fig. 3b)."""
    import matplotlib.pyplot as plt

    from msr.analysis.firing import plot_block_rates, plot_raster

    n = len(models)
    fig, axes = plt.subplots(2 * n, 1, figsize=(6.4, 7.6 * n), squeeze=False)
    for i, (label, m) in enumerate(models.items()):
        a, b = axes[2 * i, 0], axes[2 * i + 1, 0]
        plot_block_rates(a, m["blocks"])
        a.set_title(f"{label}: firing rate per block and LIF\n(network rate {m['network_rate']:.3f})")
        r = {f"{m['kept'][j]}": rasters[f"{label}__{j}"] for j in range(len(m["kept"])) if f"{label}__{j}" in rasters}
        if r:
            plot_raster(b, r, T=m["T"])
        b.set_title(f"{label}: spikes of 100 neurons in 3 layers")
    return fig


# ---------------------------------------------------- chapter 8: landscape ----

def plot_landscapes(landscapes: dict):
    """Fig. 4: one row per depth, vanilla left and MS right."""
    import matplotlib.pyplot as plt

    from msr.analysis.landscape import plot_landscape

    keys = sorted(landscapes, key=lambda k: (k.split("-")[0] != "vanilla", int(k.split("-")[1])))
    depths = sorted({int(k.split("-")[1]) for k in keys})
    fig, axes = plt.subplots(len(depths), 2, figsize=(6.4, 3.4 * len(depths)), squeeze=False)
    for k in keys:
        b, d = k.split("-")
        ax = axes[depths.index(int(d))][0 if b == "vanilla" else 1]
        plot_landscape(ax, landscapes[k], levels=15, log=True, clabel=False)
        ax.set_title(f"{BLOCK_LABELS[b].split(' (')[0]}-{d}\nnon-convex share {landscapes[k]['nonconvexity']:.2f}",
                     fontsize=10.5)
    for ax in axes.flat:
        if not ax.has_data():
            ax.axis("off")
    return fig


# --------------------------------------------------------- chapter 9: init ----

def plot_init(a: list[dict], b: list[dict]):
    """Fig. 5a first-epoch accuracy per (gamma1, gamma2) for BN and TDBN, and Fig. 5b loss
    curves, stacked."""
    import matplotlib.pyplot as plt
    import pandas as pd

    fig, axes = plt.subplots(3, 1, figsize=(6.4, 13))
    df = pd.DataFrame([r for r in a if r.get("acc") is not None])
    for ax, norm in zip(axes[:2], ("bn", "tdbn"), strict=False):
        sub = df[df["norm"] == norm] if len(df) else df
        if len(sub):
            piv = sub.pivot_table(index="gamma1", columns="gamma2", values="acc")
            import seaborn as sns

            sns.heatmap(piv, annot=True, fmt=".1f", cmap="viridis", ax=ax,
                        cbar_kws={"label": "accuracy after epoch 1 (%)"})
            ax.grid(False)
            ax.set_xlabel("γ2 (second BN of the residual path)")
            ax.set_ylabel("γ1 (first BN)")
        else:
            ax.axis("off")
        ax.set_title(f"Fig. 5a, {norm.upper()}: first-epoch accuracy")
    for r in b:
        if r.get("curve"):
            ls = "-" if r["gamma2"] == 0 else "--"
            axes[2].plot(r["curve"]["step"], r["curve"]["loss"], ls,
                         label=f"{r['norm'].upper()}, γ2 = {r['gamma2']:g}")
    axes[2].set_xlabel("step")
    axes[2].set_ylabel("training loss")
    axes[2].set_title("Fig. 5b: MS-ResNet104 training loss")
    if axes[2].get_legend_handles_labels()[0]:
        axes[2].legend(fontsize=10)
    return fig


# ---------------------------------------------------- chapter 10: shortcuts ----

def table6_frame(t6: dict, dataset: str):
    """Table VI for one of our data sets: per depth, ours and the paper's for SR-A/B/C (%)."""
    import pandas as pd

    from msr import paper

    pdata = "cifar100" if dataset == "cifar100" else "cifar10"
    short = {"ms": "SR-A", "sr_b": "SR-B", "sr_c": "SR-C"}
    rows = []
    for depth, by_block in paper.TABLE_VI[pdata].items():
        row = {"depth": depth}
        for block in ("ms", "sr_b", "sr_c"):
            r = t6.get((dataset, block, depth))
            row[f"{short[block]}: ours"] = acc_cell(r)
            row[f"{short[block]}: paper"] = by_block[block]
        rows.append(row)
    return pd.DataFrame(rows)


def plot_table6(t6: dict, datasets: list[str], ours_label: str):
    """Table VI as accuracy against depth per shortcut position: ours per data set (when
    stored; mean ± std over seeds with each seed as a small dot), then the paper's CIFAR-10
    and CIFAR-100 panels (dashed)."""
    import matplotlib.pyplot as plt

    from msr import paper

    labels = {"ms": "SR-A (MS-ResNet)", "sr_b": "SR-B", "sr_c": "SR-C"}
    colours = {"ms": PALETTE["sr_a"], "sr_b": PALETTE["sr_b"], "sr_c": PALETTE["sr_c"]}
    panels = []
    for ds in datasets:
        s = {}
        for (d, b, depth), r in t6.items():
            if d == ds and r and r.get("acc") is not None:
                s.setdefault(b, []).append((depth, r))
        if s:
            mine = {k: r for k, r in t6.items() if k[0] == ds}
            panels.append((f"{ours_label} on {dataset_name(ds)}{seeds_title(mine)}", s, "o-"))
    for pdata, name in (("cifar10", "CIFAR-10"), ("cifar100", "CIFAR-100")):
        s = {}
        for depth, by in paper.TABLE_VI[pdata].items():
            for b, a in by.items():
                if a is not None:
                    s.setdefault(b, []).append((depth, a))
        panels.append((f"paper, {name}", s, "s--"))
    fig, axes = plt.subplots(len(panels), 1, figsize=(6.4, 3.5 * len(panels) + 0.8 * (len(panels) - 2)),
                             squeeze=False)
    for ax, (name, s, style) in zip(axes[:, 0], panels, strict=False):
        _depth_panel(ax, s, labels, style, colours)
        ax.set_title(name)
    ours = len(panels) > 2
    fig.suptitle("Table VI: accuracy against depth per shortcut position"
                 + ("" if ours else "\n(the paper's numbers only, no run of ours stored)"))
    return fig


def claims_of(R: dict, profile: str):
    """The claims a chapter's compute step checked, as Markdown."""
    return claims_md(R.get("claims", []), profile)


# ---------------------------------------------------- chapter 11: two-phase ----

#: Appendix B's phases in words.
PHASES = {"T1_pretrained": "trained at T = 1", "T1_weights_at_T6": "T = 1 weights run at T = 6",
          "finetuned_T6": "finetuned at T = 6"}


def two_phase_frame(P: dict, model: str):
    """Appendix B: test accuracy (%) per phase, the paper's and ours."""
    import pandas as pd

    from msr import paper

    return pd.DataFrame([{"phase": PHASES.get(k, k), "paper (ImageNet, MS-ResNet104) (%)": v,
                          f"ours ({model}) (%)": P[k]["acc"] if k in P else "not run"}
                         for k, v in paper.TWO_PHASE.items()])


def plot_two_phase(P: dict, ours_label: str):
    """Appendix B: test accuracy per phase, the paper's (ImageNet, ResNet-104) and ours,
    one panel each (dots: the accuracy axis need not start at zero)."""
    import matplotlib.pyplot as plt

    from msr import paper

    keys = list(paper.TWO_PHASE)
    ours = [P[k]["acc"] if k in P else np.nan for k in keys]
    has = not all(np.isnan(ours))
    panels = ([(ours_label, ours, "#1f77b4")] if has else []) + [
        ("paper (ImageNet, MS-ResNet104)", [paper.TWO_PHASE[k] for k in keys], "#000000")]
    fig, axes = plt.subplots(len(panels), 1, figsize=(6.4, 2.6 * len(panels) + 0.9), squeeze=False)
    for ax, (title, vals, colour) in zip(axes[:, 0], panels, strict=False):
        ys = np.arange(len(keys))[::-1]
        ax.plot(vals, ys, "o", color=colour, ms=10)
        finite = [v for v in vals if not np.isnan(v)]
        span = max(max(finite) - min(finite), 1.0)
        for y, v in zip(ys, vals, strict=True):
            ax.annotate("not run" if np.isnan(v) else f"{v:.2f} %", (v if not np.isnan(v) else min(finite), y),
                        xytext=(10, 0), textcoords="offset points", va="center", fontsize=11)
        ax.set_yticks(ys)
        ax.set_yticklabels([PHASES.get(k, k) for k in keys])
        ax.set_ylim(-0.6, len(keys) - 0.4)
        ax.set_xlim(min(finite) - 0.4 * span, max(finite) + 0.6 * span)
        ax.set_xlabel("test accuracy (%)")
        ax.set_title(title)
    fig.suptitle("Two-phase training: accuracy per phase"
                 + ("" if has else "\n(the paper's numbers only, no run of ours stored)"))
    return fig


# --------------------------------------------------- chapter 13: performance ----

def bench_commit(result: dict) -> str:
    """The commit of a bench result: its recorded hash, else the commit that stored the
    result file (a run in a copy without git history records none)."""
    p = result.get("provenance") or {}
    if is_commit(p.get("git_commit")):
        return f"commit {commit_of(p)}"
    stored = committed_in(Path("results") / "bench" / "performance" / f"{result.get('hash')}.json") \
        if result.get("hash") else None
    return "code commit not recorded" + (f" (result stored in commit {stored})" if stored else "")


def bench_footer(result: dict) -> str:
    p = result["provenance"]
    return (f"hardware {hardware_of(p)} · torch {p.get('torch')} · {bench_commit(result)} · "
            f"{'quick' if result.get('quick') else 'full'} bench · {date_of(p)[:10]}")


def bench_frames(result: dict) -> dict:
    """The bench tables a reader uses: targets, LIF median ms per backend, training steps."""
    import pandas as pd

    targets = pd.DataFrame([{"target": t["target"], "measured": t["value"], "threshold": t["threshold"],
                             "met": t["met"]} for t in result["targets"]])
    lif = pd.DataFrame([r for r in result["lif"] if r.get("median_ms") is not None])
    lif = lif.pivot_table(index=["neurons", "T"], columns="backend", values="median_ms")
    lif.columns = [f"{c} (ms)" for c in lif.columns]
    train = pd.DataFrame([r for r in result["train"] if r.get("status") == "ok"])
    base = train[train["strategy"] == "authors"].set_index("model")["median_ms"]
    cols = {"model": "model", "strategy": "strategy", "batch": "batch", "T": "T", "median_ms": "ms per step",
            "images_per_s": "images/s", "speedup": "speed-up over the authors' (x)",
            "conv_share": "time in convolutions (%)", "peak_mem_MB": "peak memory (MB)"}
    train["speedup"] = [base.get(m, np.nan) / ms for m, ms in zip(train["model"], train["median_ms"], strict=True)]
    train["conv_share"] = 100 * train["conv_share"]
    train = train[[c for c in cols if c in train]].rename(columns=cols)
    return {"targets": targets, "lif": lif, "train": train}


def plot_bench(result: dict):
    """Speed-up bars on one machine: training step over the authors' execution per model
    and msr strategy (top); LIF forward + backward over the reference implementation per
    backend at T = 6 (bottom)."""
    import matplotlib.pyplot as plt
    import pandas as pd

    device = hardware_of(result["provenance"])
    train = pd.DataFrame([r for r in result["train"] if r.get("status") == "ok"])
    base = train[train["strategy"] == "authors"].set_index("model")["median_ms"]
    train = train[train["strategy"] != "authors"].copy()
    train["speedup"] = [base.get(m, np.nan) / ms for m, ms in zip(train["model"], train["median_ms"], strict=True)]
    lif = pd.DataFrame([r for r in result["lif"] if r.get("median_ms") is not None])
    T = 6 if (lif["T"] == 6).any() else int(lif["T"].max())
    lif = lif[lif["T"] == T]
    ref = lif[lif["backend"] == "msr-reference"].set_index("neurons")["median_ms"]
    lif = lif.assign(speedup=[ref.get(n, np.nan) / ms for n, ms in zip(lif["neurons"], lif["median_ms"], strict=True)])
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(6.4, 8.6))
    for axis, df, group, hue, title in (
            (ax, train, "model", "strategy", "Training step: speed-up over the authors' execution"),
            (bx, lif, "neurons", "backend", f"LIF forward + backward, T = {T}: speed-up over msr-reference")):
        groups = list(dict.fromkeys(df[group]))
        hues = list(dict.fromkeys(df[hue]))
        w = 0.8 / max(len(hues), 1)
        for j, h in enumerate(hues):
            vals = [df[(df[group] == g) & (df[hue] == h)]["speedup"].mean() for g in groups]
            xs = np.arange(len(groups)) + (j - (len(hues) - 1) / 2) * w
            bars = axis.bar(xs, vals, width=w, label=h)
            axis.bar_label(bars, labels=[("" if np.isnan(v) else f"{v:.1f}") for v in vals], fontsize=8.5, padding=1)
        axis.axhline(1.0, color="k", lw=0.8)
        axis.set_xticks(np.arange(len(groups)))
        axis.set_xticklabels([f"{g:,} neurons" if isinstance(g, (int, np.integer)) else str(g) for g in groups])
        axis.set_ylabel("speed-up (x)")
        axis.set_title(title, fontsize=12)
        top = np.nanmax(df["speedup"].to_numpy(dtype=float)) if len(df) else 1.0
        axis.set_ylim(0, 1.45 * max(top, 1.0))  # headroom: the legend sits above the bars
        axis.legend(fontsize=9, ncol=3, loc="upper left")
    fig.suptitle(device)
    return fig


def performance_section(result: dict, page: "Page", slug: str) -> None:
    """One machine's bench results: heading, speed-up figure, then its tables."""
    from IPython.display import display

    p = result["provenance"]
    footer = bench_footer(result)
    t = bench_frames(result)
    display(md(f"### {hardware_of(p)}\n"))
    display(page.figure(plot_bench(result), f"bench_{slug}", footer))
    display(page.table(t["train"], f"bench_{slug}_train", f"Training steps on {hardware_of(p)}", footer,
                       digits={"images/s": 0, "peak memory (MB)": 0, "ms per step": 1,
                               "speed-up over the authors' (x)": 2, "time in convolutions (%)": 0}))
    display(page.table(t["lif"], f"bench_{slug}_lif",
                       f"LIF forward + backward on {hardware_of(p)}: median time per call", footer, digits=3))
    display(page.table(t["targets"], f"bench_{slug}_targets", f"Speed targets on {hardware_of(p)}: measured ratios",
                       footer, digits=2))
