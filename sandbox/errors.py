"""A refusal any sandbox route raises: an HTTP status and the sentence(s) the service would answer."""

from __future__ import annotations


class RouteError(Exception):
    """Answered by ``sandbox.app`` as ``{"errors": [...], "message": "..."}``; a blueprint that speaks another
    envelope (the data-source proxy, the object store, custom metrics) registers its own handler for it."""

    def __init__(self, status: int, *messages: str) -> None:
        super().__init__(*messages)
        self.status = status
        self.messages = list(messages)
        self.message = "; ".join(messages)
