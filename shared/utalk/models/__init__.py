"""Pydantic models: the wire contract of the REST API, the events and the stored entities."""
