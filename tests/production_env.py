"""A complete production configuration for tests that run an instance as deployed (throwaway values)."""
from __future__ import annotations

import base64


def production_env(**overrides: str) -> dict[str, str]:
    """What a deployed function or relay is given (the secrets as Secret Manager mounts them)."""
    return {
        "K_SERVICE": "utalk-test-function",
        "UTALK_ENV": "production",
        "UTALK_JWT_SECRET": "p" * 40,
        "UTALK_CREDENTIALS_KEY": base64.b64encode(b"c" * 32).decode(),
        "UTALK_INVOKER_SERVICE_ACCOUNT": "utalk-invoker@utalk-test.iam.gserviceaccount.com",
        "GOOGLE_CLOUD_PROJECT": "utalk-test",
        "UTALK_FUNCTIONS_BASE_URL": "https://us-central1-utalk-test.cloudfunctions.net",
        "UTALK_PUBLIC_BASE_URL": "https://api.utalk.example",
        **overrides,
    }
