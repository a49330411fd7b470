"""The rows a deploy reads: the manifest by default, or a module shaped like it (tests' fixtures)."""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from utalk import manifest


@dataclass(frozen=True)
class Spec:
    functions: tuple[manifest.Function, ...]
    queues: tuple[manifest.Queue, ...]
    topics: tuple[str, ...]
    secrets: tuple[str, ...]
    platform_secrets: tuple[str, ...] = manifest.PLATFORM_SECRETS

    def secrets_of(self, fn: manifest.Function) -> tuple[str, ...]:
        """What the function mounts: the platform's secrets, then its row's."""
        return tuple(dict.fromkeys(self.platform_secrets + fn.secrets))

    def queue(self, name: str) -> manifest.Queue:
        return next(q for q in self.queues if q.name == name)

    def only(self, names: set[str] | None) -> tuple[manifest.Function, ...]:
        """The rows named (all of them for None)."""
        return tuple(f for f in self.functions if names is None or f.name in names)


def load(module: str | None = None) -> Spec:
    """`module` names a Python module with FUNCTIONS (and optionally QUEUES, TOPICS, SECRETS)."""
    source = importlib.import_module(module) if module else manifest
    return Spec(functions=tuple(source.FUNCTIONS),
                queues=tuple(getattr(source, "QUEUES", manifest.QUEUES)),
                topics=tuple(getattr(source, "TOPICS", manifest.TOPICS)),
                secrets=tuple(getattr(source, "SECRETS", manifest.SECRETS)),
                platform_secrets=tuple(getattr(source, "PLATFORM_SECRETS", manifest.PLATFORM_SECRETS)))
