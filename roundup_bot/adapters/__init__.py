"""Adapters to the outside world: HTTP, feeds, article pages, X, rendering, OPML.

Each module translates one outside thing into the core's records and the core's
errors (``raise FetchError(...) from exc``); nothing here decides what to keep.
"""
