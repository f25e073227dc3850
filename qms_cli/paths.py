"""Where the package keeps its data. Imports nothing heavy: `qms --help` reads it."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
BUILTIN_TYPES = PACKAGE_DIR / "types"


def builtin_type_names() -> list[str]:
    """Names of the built-in record types, from file names alone (cheap: for --help)."""
    return sorted(p.stem for p in BUILTIN_TYPES.glob("*.yaml"))


def data_dir(name: str) -> Path:
    """A folder shipped at the repository's top (templates, the sample store): inside the
    package when installed from a wheel, beside it in a checkout."""
    packaged = PACKAGE_DIR / "_data" / name
    return packaged if packaged.exists() else PACKAGE_DIR.parent / name


def sample_store_dir() -> Path:
    packaged = PACKAGE_DIR / "_data" / "sample"
    return packaged if packaged.exists() else PACKAGE_DIR.parent
