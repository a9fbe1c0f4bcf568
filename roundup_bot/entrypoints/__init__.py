"""The front doors: the command line, the editors' web app and the daemon's scheduler.

Each turns a command, a request or a timer into a call of a use case, and a
result or an error into output; none holds a rule of its own.
"""
