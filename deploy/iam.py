"""Who may do what: the grants the deploy makes, least privilege by resource where Google allows it.

The three runtime identities (api, webhooks, internal) differ in the secrets they may read, which
follow the manifest rows that mount them; their data access is the same because every role's code
reaches Firestore, Pub/Sub, Cloud Tasks and media (their import closures all contain those modules).
The invoker may only invoke the internal functions (run.invoker on each, nothing else). The relay,
deployed on Railway with a key of its own, creates its shared pull subscriptions at start (so
pubsub.editor) and enqueues assignments.
"""
from __future__ import annotations

import copy
import hashlib

from deploy.target import Target

RUNTIME = ("roles/datastore.user", "roles/pubsub.publisher", "roles/cloudtasks.enqueuer")
PROJECT_ROLES = {
    "api": RUNTIME,
    "webhooks": RUNTIME,
    "internal": RUNTIME,
    "relay": ("roles/datastore.user", "roles/pubsub.editor", "roles/cloudtasks.enqueuer"),
}
# Identities whose code enqueues tasks carrying the invoker's OIDC token need actAs on the invoker.
ACTS_AS_INVOKER = ("api", "webhooks", "internal", "relay")
# Identities that sign media URLs without a key file sign as themselves through the IAM
# Credentials API (`signBlob`): token creator on their own account, never project-wide (that
# would let them mint tokens as the invoker).
SIGNS_AS_ITSELF = ("api", "internal")
TOKEN_CREATOR = "roles/iam.serviceAccountTokenCreator"
BUCKET_ROLE = "roles/storage.objectUser"
BUCKET_USERS = ("api", "webhooks", "internal")
SECRET_ACCESSOR = "roles/secretmanager.secretAccessor"
ACT_AS = "roles/iam.serviceAccountUser"
# Pub/Sub's own agent moves undeliverable pushes to the dead-letter topic: it publishes there
# and acknowledges on the source subscriptions.
PUBSUB_AGENT_ROLES = ("roles/pubsub.publisher", "roles/pubsub.subscriber")


def project_bindings(tgt: Target) -> dict[str, set[str]]:
    wanted: dict[str, set[str]] = {}
    for identity, roles in PROJECT_ROLES.items():
        for role in roles:
            wanted.setdefault(role, set()).add(tgt.member(identity))
    for role in PUBSUB_AGENT_ROLES:
        wanted.setdefault(role, set()).add(tgt.pubsub_agent)
    return wanted


def account_bindings(tgt: Target) -> dict[str, dict[str, set[str]]]:
    """The grants on service accounts themselves: identity -> role -> members."""
    wanted = {"invoker": {ACT_AS: {tgt.member(i) for i in ACTS_AS_INVOKER}}}
    for identity in SIGNS_AS_ITSELF:
        wanted[identity] = {TOKEN_CREATOR: {tgt.member(identity)}}
    return wanted


def missing(policy: dict, wanted: dict[str, set[str]]) -> dict[str, set[str]]:
    """The members of `wanted` that the policy does not grant yet (role -> members)."""
    have: dict[str, set[str]] = {}
    for binding in policy.get("bindings", []):
        if not binding.get("condition"):
            have.setdefault(binding["role"], set()).update(binding.get("members", []))
    gaps = {role: members - have.get(role, set()) for role, members in wanted.items()}
    return {role: members for role, members in gaps.items() if members}


def merged(policy: dict, add: dict[str, set[str]]) -> dict:
    """The policy with `add` granted, keeping every other binding and the etag (a concurrent change fails)."""
    out = copy.deepcopy(policy) or {}
    bindings = out.setdefault("bindings", [])
    for role, members in sorted(add.items()):
        binding = next((b for b in bindings if b["role"] == role and not b.get("condition")), None)
        if binding is None:
            binding = {"role": role, "members": []}
            bindings.append(binding)
        binding["members"] = sorted(set(binding["members"]) | members)
    return out


def only_readers(readers: set[str]) -> dict:
    """A secret's whole policy: its readers and no one else (grant people access by project roles)."""
    return {"bindings": [{"role": SECRET_ACCESSOR, "members": sorted(readers)}] if readers else []}


def readers_label(readers: set[str]) -> str:
    """What the secret's `utalk-readers` label records, so a deploy need not read each secret's policy."""
    return hashlib.sha256(",".join(sorted(readers)).encode()).hexdigest()[:16]
