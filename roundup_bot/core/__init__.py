"""The pure core: records, rules and decisions, with no I/O.

Nothing in this package opens a file, a socket or a database, reads the clock or
the environment, or imports a library that does (SQLAlchemy, httpx, feedparser,
tweepy, Flask, APScheduler, Jinja2...): the outside world is passed in as plain
values, and a test (tests/core/test_purity.py) holds the package to it. That is
what lets every rule here be tested without a server or a database.
"""
