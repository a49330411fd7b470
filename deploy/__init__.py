"""Deploy UTalk to Google Cloud from the function manifest (`scripts/deploy`, `scripts/rollback`).

`target` names what the manifest becomes in one project (service accounts, URLs, Cloud Run
service names); `validate` refuses what Google would refuse, naming the row; `hashing` fingerprints
each function's source closure and settings; `resources` is the desired state and the gcloud argv
that creates it; `state` reads what the project has; `plan` compares the two into steps; `execute`
runs the steps in waves with a bounded pool; `frontdoor`, `rules` and `relay` are the API Gateway,
Firebase rules and Railway parts; `rollback` moves traffic back one revision.
"""
