"""Degradation (book chapter 2): Table II (plain / vanilla / wolif / ms x depth), the deep
MS-ResNets of Sec. III-D, the gamma2 = 0 ablation, and the three Table II claims."""
from __future__ import annotations

from typing import TYPE_CHECKING

from msr.chapters._claims import clearly_above, pm, sd, seeds_note
from msr.chapters._runs import seed_summary, train_runs

if TYPE_CHECKING:
    from msr.chapters import ChapterContext


def compute(ctx: ChapterContext) -> dict:
    """Chapter 2: Table II sweep (plain / vanilla / wolif / ms x depth) and MS-ResNet110/482;
    the gamma2 = 0 ablation of vanilla and wolif (``msr sweep ablation``) is only read.
    Each cell is the mean ± std over the seeds run (:func:`msr.chapters._runs.seed_summary`)."""
    t2 = train_runs(ctx, "table2")
    deep = train_runs(ctx, "deep")
    ablation = train_runs(ctx.reader(), "ablation")
    by = lambda c: (c.block, c.depth)  # noqa: E731
    return {"table2": seed_summary(t2, by), "deep": seed_summary(deep, by), "ablation": seed_summary(ablation, by),
            "missing": [why for _, _, why in t2 + deep if why], "dataset": t2[0][0].dataset}


def claims(result: dict | None) -> list[dict]:
    """The three Table II claims of a :func:`compute` result (:func:`_table2_claims`)."""
    return _table2_claims((result or {}).get("table2") or {})


def _peak(accs: dict) -> tuple[int, float] | None:
    """(depth, accuracy) of the best depth among at least 3 depths run."""
    done = {d: a for d, a in accs.items() if a is not None}
    if len(done) < 3:
        return None
    d = max(done, key=done.get)
    return d, done[d]


def paper_peak(block: str) -> int:
    """The depth at which Table II's ``block`` is most accurate in the paper (PlainNet 14,
    vanilla 20)."""
    from msr import paper

    accs = {d: a for d, a in paper.TABLE_II[block].items() if a is not None}
    return max(accs, key=accs.get)


def _scope(rows: dict) -> dict:
    """``{"scope": "at depths 8, 14 and 20 only"}`` for a verdict on fewer than Table II's six
    depths (the badge says which depths decided it), else nothing."""
    from msr.sweep import TABLE2_DEPTHS

    if set(rows) >= set(TABLE2_DEPTHS):
        return {}
    ds = [str(d) for d in sorted(rows)]
    return {"scope": f"at depths {', '.join(ds[:-1])} and {ds[-1]} only" if len(ds) > 1 else f"at depth {ds[0]} only"}


def _too_few(text: str, rows: dict) -> dict:
    """A Table II claim that fewer than the 3 depths it needs decide: ``not run`` where no
    depth is stored, else how many are (``measured``: its badge says "not judged yet")."""
    if not rows:
        return {"paper": text, "shown": None, "kind": "evidence", "evidence": "not run"}
    return {"paper": text, "shown": None, "kind": "evidence", "measured": True,
            "evidence": f"{len(rows)} of the 3 depths it needs run ({', '.join(map(str, sorted(rows)))})"}


def _table2_claims(t2: dict) -> list[dict]:
    """The three Table II claims from ``t2`` ({(block, depth): {"acc", "std", "n"} or None,
    :func:`msr.chapters._runs.seed_summary`}): where PlainNet and the vanilla ResNet peak
    (shown when no depth is clearly more accurate than the paper's peak depth and the
    deepest depth is clearly less accurate than it), and whether MS-ResNet keeps improving
    (no depth clearly better than its deepest, which is clearly better than its shallowest);
    each needs at least 3 depths run.  "Clearly": :data:`msr.chapters.SPREAD_RULE`, so a
    best mean at another depth within the seed spread of the paper's does not decide."""
    out = []
    for block, name in (("plain", "PlainNet"), ("vanilla", "the vanilla spiking ResNet")):
        depth = paper_peak(block)
        text = f"{name} peaks at {depth} layers and degrades beyond"
        rows = {d: r for (b, d), r in t2.items() if b == block and r}
        pk = _peak({d: r["acc"] for d, r in rows.items()})
        if pk is None:
            out.append(_too_few(text, rows))
            continue
        peak, deepest, seeds = rows[pk[0]], max(rows), seeds_note(rows.values())
        ev, key = f"ours peaks at depth {pk[0]} ({pm(peak)} %)", f"peak at depth {pk[0]}"
        if depth not in rows:
            out.append({"paper": text, "shown": None, "kind": "evidence", "measured": True,
                        "evidence": f"{ev}; depth {depth} not run; {seeds}", "key": f"{key}; depth {depth} not run"})
            continue
        at = rows[depth]
        above = sorted(d for d in rows if clearly_above(rows[d], at))
        if pk[0] != depth:
            ev += f"; depth {depth} ({pm(at)} %) is {'below' if above else 'within'} the seed spread of it"
            key += f" ({'clearly' if above else 'within the spread of'} depth {depth})"
        if deepest <= depth and not above:  # "degrades beyond" needs a depth beyond the peak
            out.append({"paper": text, "shown": None, "kind": "evidence", "measured": True,
                        "evidence": f"{ev}; no depth beyond {depth} run yet, so whether it degrades there is "
                                    f"not measured; {seeds}",
                        "key": f"{key}; no depth beyond {depth} run yet; {seeds}"})
            continue
        drop, noise = at["acc"] - rows[deepest]["acc"], sd(at) + sd(rows[deepest])
        side = "beyond" if drop > noise else "inside"
        if deepest > depth:
            ev += f"; drop from depth {depth} to {deepest}: {drop:.2f} points, {side} the seed spread ({noise:.2f})"
            key += f"; depth {deepest} {drop:.2f} points below depth {depth} ({side} the spread)"
        out.append({"paper": text, "shown": not above and deepest > depth and drop > noise, "kind": "evidence",
                    "evidence": f"{ev}; {seeds}", "key": f"{key}; {seeds}", **_scope(rows)})
    ms = {d: r for (b, d), r in t2.items() if b == "ms" and r}
    pk = _peak({d: r["acc"] for d, r in ms.items()})
    text = "MS-ResNet keeps improving with depth (its deepest model is its best)"
    if pk is None:
        out.append(_too_few(text, ms))
        return out
    deepest, shallowest = max(ms), min(ms)
    beaten = [d for d in ms if d != deepest and clearly_above(ms[d], ms[deepest])]
    gain = clearly_above(ms[deepest], ms[shallowest])
    below = ", ".join(map(str, sorted(beaten)))
    vs, seeds = "clearly above" if gain else "within the spread of", seeds_note(ms.values())
    out.append({"paper": text, "shown": not beaten and gain, "kind": "evidence",
                "evidence": f"ours is best at depth {pk[0]} of depths up to {deepest}; depth {deepest} "
                            f"({pm(ms[deepest])} %) is "
                            + (f"clearly below depth(s) {below}" if beaten else "below no depth beyond the seed spread")
                            + f" and {vs} depth {shallowest} ({pm(ms[shallowest])} %); {seeds}",
                "key": f"best at depth {pk[0]}; depth {deepest} "
                       + (f"clearly below {below}" if beaten else "below no depth") + f", {vs} {shallowest}; {seeds}",
                **_scope(ms)})
    return out
