"""Read filled sheets back: scanned pages in, certain-or-flagged values out (SQLite).

Stages (each a plain function of the previous stage's result, run in order by ``read.read_page``):

    sources.load_page ─▶ identify.identify ─▶ align.align ─▶ marks / ink / digits ─▶ PageResult ─▶ store.store_page

``pipeline.ingest`` runs the per-page read in a process pool; the parent process alone writes SQLite, one
transaction per page.
"""
