"""The landing page: the paper's claims with our verdicts and the headline figure.

It trains nothing: it reads every chapter's stored results (:func:`msr.chapters.collect`)
and checks the claims the report chapter checks (:func:`msr.chapters.report.claims`)."""
from __future__ import annotations

from msr.chapters import report


def compute(ctx) -> dict:
    """``results``: every chapter as the store holds it; ``claims``: each claim with its
    verdict, kind and the chapter that checks it."""
    from msr.chapters import collect

    results = collect(ctx)
    return {"results": results, "claims": report.claims(results)}
