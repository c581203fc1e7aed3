"""The connector error tree: transient (retry later) vs terminal (retrying cannot help).

Its own module so that the HTTP client, the connectors and the collect wing's runner can all
raise and catch these without importing one another.
"""

from __future__ import annotations


class SourceError(RuntimeError):
    """Base of every connector error; the message is one line with secrets removed."""


class TransientError(SourceError):
    """Worth retrying later: rate limited, server error, timeout, connection failure."""


class TerminalError(SourceError):
    """Retrying will not help: bad credentials, unknown resource, schema violation."""
