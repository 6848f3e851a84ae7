"""Kubernetes resource quantities as numbers: CPU in millicores, memory in bytes."""

from __future__ import annotations

import re

_SUFFIX = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
}
_MEMORY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$")


def millicores(value: str) -> int:
    """`"250m"` -> 250, `"2"` -> 2000, `"0.5"` -> 500."""
    if value.endswith("m"):
        return int(value[:-1])
    return round(float(value) * 1000)


def bytes_of(value: str) -> int:
    """`"128Mi"` -> 134217728."""
    match = _MEMORY.match(value)
    if not match:
        raise ValueError(f"not a memory quantity: {value!r}")
    return round(float(match.group(1)) * _SUFFIX[match.group(2) or ""])


def format_cpu(milli: int) -> str:
    """250 -> "250m", 2000 -> "2"."""
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def format_memory(size: int) -> str:
    """134217728 -> "128Mi"; the largest binary unit that divides evenly."""
    for unit in ("Pi", "Ti", "Gi", "Mi", "Ki"):
        if size % _SUFFIX[unit] == 0 and size >= _SUFFIX[unit]:
            return f"{size // _SUFFIX[unit]}{unit}"
    return str(size)
