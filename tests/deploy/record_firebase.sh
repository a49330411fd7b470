#!/usr/bin/env bash
# Stands in for firebase-tools in the deploy tests: records the command the deploy runs and where.
{ printf '%s\n' "$PWD"; printf '%s\n' "$@"; } > "$UTALK_FIREBASE_RECORD"
