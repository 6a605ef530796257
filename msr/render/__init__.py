"""Render step of every book chapter: one module per chapter, named as in :mod:`msr.chapters`.

``msr/chapters/<name>.py`` computes (and never imports this package or :mod:`msr.book`);
``msr/render/<name>.py`` draws the figures and tables of ``book/notebooks/<name>.md`` from
what the chapter's ``compute`` returned.  The pieces every chapter shares (parameters,
style, figure saving, tables, claims boxes, provenance lines) live in :mod:`msr.book`.
The summary page draws with :mod:`msr.render.degradation` (accuracy against depth) and
:mod:`msr.book` (the claims table), so it has no module of its own.
"""
