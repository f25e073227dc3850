"""Where the package keeps its data. Imports nothing heavy: `qms --help` reads it."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
BUILTIN_TYPES = PACKAGE_DIR / "types"


def builtin_type_names() -> list[str]:
    """Names of the built-in record types, from file names alone (cheap: for --help)."""
    return sorted(p.stem for p in BUILTIN_TYPES.glob("*.yaml"))


_LABEL = re.compile(r"^label:\s*\{\s*zh:\s*([^,}]+?)\s*,\s*en:\s*([^,}]+?)\s*\}\s*$", re.M)


def builtin_type_label(name: str, lang: str) -> str:
    """A built-in type's label (客诉, Customer complaint) read from its `label:` line alone
    (cheap: for --help); the type's name where that line has another shape."""
    try:
        m = _LABEL.search((BUILTIN_TYPES / f"{name}.yaml").read_text(encoding="utf-8"))
    except OSError:
        return name
    return (m.group(1) if lang == "zh" else m.group(2)) if m else name


def data_dir(name: str) -> Path:
    """A folder shipped at the repository's top (templates, the sample store): inside the
    package when installed from a wheel, beside it in a checkout."""
    packaged = PACKAGE_DIR / "_data" / name
    return packaged if packaged.exists() else PACKAGE_DIR.parent / name


def sample_store_dir() -> Path:
    packaged = PACKAGE_DIR / "_data" / "sample"
    return packaged if packaged.exists() else PACKAGE_DIR.parent
