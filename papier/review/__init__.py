"""papier review: the local web page where a person checks only what the machine was unsure of.

- ``papier.review.queue``: the review queue and every decision (pure SQLite logic, no HTTP).
- ``papier.review.images``: snippets, line crops and page images, looked up by id (never by a client path).
- ``papier.review.suggest``: pluggable suggestion sources for text transcription (roster, catalogue).
- ``papier.review.server``: the stdlib HTTP server with its per-run token; ``serve()`` and ``build_server()``.
- ``static/``: the page itself (HTML, JS, CSS), French interface, keyboard first.
"""
