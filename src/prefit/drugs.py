"""Drug names as DailyMed writes them: salts, dosage forms and strengths dropped, one name per ingredient.

Used to group labels by drug (`train split --group-normalise drug`) and to recognise a combination
product's per-ingredient sub-headings ("Naproxen", "Esomeprazole") while parsing its label.
"""

from __future__ import annotations

import re

SALTS_AND_FORMS = {
    "HYDROCHLORIDE", "HCL", "SODIUM", "POTASSIUM", "MAGNESIUM", "CALCIUM", "EPOLAMINE", "BITARTRATE", "SUCCINATE", "PHOSPHATE",
    "SULFATE", "MALEATE", "TARTRATE", "MESYLATE", "BESYLATE", "ACETATE", "CITRATE", "TABLET", "TABLETS", "CAPSULE", "CAPSULES",
    "ER", "XR", "SR", "DR", "EXTENDED", "DELAYED", "RELEASE", "ORAL", "SUSPENSION", "SOLUTION", "INJECTION", "KIT", "GEL", "MG",
    "ML", "AND", "USP"}
_PARTS = re.compile(r"\s*(?:,|\+|/|\bAND\b|\bWITH\b|(?<=[A-Z])\s?-\s?(?=[A-Z]))\s*")


def ingredients(value: str) -> set[str]:
    """"DICLOFENAC SODIUM AND MISOPROSTOL" -> {"DICLOFENAC", "MISOPROSTOL"}."""
    out = set()
    for part in _PARTS.split(value.upper()):
        words = [w for w in re.findall(r"[A-Z][A-Z-]*", part) if w.strip("-") not in SALTS_AND_FORMS]
        if words:
            out.add(" ".join(words))
    return out


def canonical_drug(value: str) -> str:
    """"DICLOFENAC SODIUM AND MISOPROSTOL" -> "DICLOFENAC + MISOPROSTOL"; "METFORMIN ER 500 MG" -> "METFORMIN"."""
    return " + ".join(sorted(ingredients(value))) or value.upper().strip()


def names_an_ingredient(heading: str, names: frozenset[str]) -> bool:
    """Whether a heading is only the name of one of `names` (canonical ingredient names), give or
    take a salt: "Naproxen", "Esomeprazole magnesium:", "ASPIRIN" for {"NAPROXEN", "ESOMEPRAZOLE"}, ...."""
    words = [w for w in re.findall(r"[A-Z][A-Z-]*", heading.upper()) if w not in SALTS_AND_FORMS]
    return bool(words) and " ".join(words) in names
