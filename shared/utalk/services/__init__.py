"""Use cases. Entry points call these; these call repositories and publish events."""
