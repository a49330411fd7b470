"""BotRun records (`workspaces/{ws}/botRuns/{id}`): one per inbound message answered by the bot."""
from __future__ import annotations

from google.api_core.exceptions import NotFound

from utalk import clock
from utalk.repositories.base import WorkspaceScope, read


class BotRunRepository:
    def __init__(self, workspace_id: str):
        self.scope = WorkspaceScope(workspace_id)
        self.runs = self.scope.collection("botRuns")

    def ref(self, run_id: str):
        return self.runs.document(run_id)

    def get(self, run_id: str) -> dict | None:
        return read(self.ref(run_id))

    def save(self, run: dict) -> None:
        """Keyed by the inbound message, so a retried run overwrites instead of adding a second."""
        self.ref(run["id"]).set({**run, "createdAt": clock.stamp()})

    def set_outcome(self, run_id: str, outcome: str) -> None:
        try:
            self.ref(run_id).update({"outcome": outcome})
        except NotFound:   # the workspace's data is gone (deleted meanwhile): nothing to annotate
            pass
