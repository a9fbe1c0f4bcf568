"""Adapters that bring candidates in: the HTTP client, feeds, and suggestion sources."""
