"""The use cases: poll, mentions, draft, publish, and the jobs that run them.

They orchestrate the core's decisions, the adapters and storage; ``app.py`` is
the one place that builds and wires those parts from the settings.
"""
