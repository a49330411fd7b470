"""Firestore access. Workspace-owned data is reached only through repositories built for one
workspace, whose paths all start at `workspaces/{workspaceId}`."""
