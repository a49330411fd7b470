"""Text matching for keywords (case- and accent-insensitive, on whole words) and the one skill normalisation."""
from __future__ import annotations

import re
import unicodedata


def normalize(text: str) -> str:
    """"¡Quiero un AGENTE, señor!" -> "quiero un agente senor" (accents and case dropped)."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.findall(r"\w+", stripped.casefold()))


def find_keyword(text: str, keywords) -> str | None:
    """The first keyword (or phrase) present as whole words in `text`, else None."""
    padded = f" {normalize(text)} "
    for keyword in keywords or []:
        norm = normalize(str(keyword))
        if norm and f" {norm} " in padded:
            return str(keyword)
    return None


def contains_any(text: str, keywords) -> bool:
    return find_keyword(text, keywords) is not None


def normalise_skills(skills) -> list[str]:
    """Skills as stored and compared everywhere (agent profiles, escalations, skills by intent):
    trimmed, lower-case, unique, sorted; so "Billing " asked for matches the skill "billing"."""
    return sorted({str(s).strip().lower() for s in skills or () if str(s).strip()})
