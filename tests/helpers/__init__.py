"""Reusable test helpers: a scripted local HTTP server and CLI runners."""
