"""Where the package keeps its data. Imports nothing heavy: `qms --help` reads it."""

from __future__ import annotations

import os
import re
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent

# The folders of a store, as paths inside it.
RECORDS = "records"  # records/<type>/[<shard>/]<ID>.yaml
FILES = "files"  # attached files: files/<type>/<ID>/NAME
BUILTIN_TYPES = PACKAGE_DIR / "types"


def builtin_type_names() -> list[str]:
    """Names of the built-in record types, from file names alone (cheap: for --help)."""
    return sorted(p.stem for p in BUILTIN_TYPES.glob("*.yaml"))


_LABEL = re.compile(r"^label:\s*\{\s*zh:\s*([^,}]+?)\s*,\s*en:\s*([^,}]+?)\s*\}\s*$", re.M)


TYPE_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
DECLARATION_LIMIT = 1 << 20


def type_label(declaration: Path, lang: str, name: str) -> str:
    """A record type's label (客诉, Customer complaint) read from its `label:` line alone
    (cheap: for --help); the type's name where that line has another shape."""
    try:
        if declaration.is_symlink() or declaration.stat().st_size > DECLARATION_LIMIT:
            return name
        m = _LABEL.search(declaration.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return name
    return (m.group(1) if lang == "zh" else m.group(2)).strip("'\"") if m else name


def builtin_type_label(name: str, lang: str) -> str:
    return type_label(BUILTIN_TYPES / f"{name}.yaml", lang, name)


def option_on_command_line(argv: list[str], *names: str) -> str | None:
    """The value given to one of the options `names` (`-C PATH`, `--store=PATH`), the last
    one given as the parser takes it, read before the command line is parsed."""
    found = None
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg in names and i + 1 < len(argv):
            found = argv[i + 1]
        elif arg.startswith("--") and arg.split("=", 1)[0] in names and "=" in arg:
            found = arg.split("=", 1)[1]
    return found


def nearest_store(here: Path) -> Path | None:
    """The nearest folder from `here` upward that holds qms.yaml, None if there is none."""
    for folder in [here, *here.parents]:
        if (folder / "qms.yaml").is_file():
            return folder
    return None


def store_on_command_line(argv: list[str]) -> Path | None:
    """The store `qms` will open, found before the command line is parsed (for help and
    the commands of the store's own record types): -C/--store PATH, else $QMS_STORE, else
    the nearest folder upward holding qms.yaml; None where there is none."""
    explicit = option_on_command_line(argv, "-C", "--store") or os.environ.get("QMS_STORE")
    try:
        if explicit:
            root = Path(explicit).expanduser()
            return root if (root / "qms.yaml").is_file() else None
        return nearest_store(Path.cwd())
    except OSError:
        return None


def store_type_names(root: Path | None) -> list[str]:
    """The record types a store declares in its own types/ (regular files with a plain
    name; a link or an odd name is left to validate to report)."""
    if root is None:
        return []
    folder = root / "types"
    try:
        if folder.is_symlink() or not folder.is_dir():
            return []
        return sorted(p.stem for p in folder.glob("*.yaml")
                      if TYPE_NAME.fullmatch(p.stem) and not p.is_symlink() and p.is_file())
    except OSError:
        return []


def data_dir(name: str) -> Path:
    """A folder shipped at the repository's top (templates, the sample store): inside the
    package when installed from a wheel, beside it in a checkout."""
    packaged = PACKAGE_DIR / "_data" / name
    return packaged if packaged.exists() else PACKAGE_DIR.parent / name


def sample_store_dir() -> Path:
    packaged = PACKAGE_DIR / "_data" / "sample"
    return packaged if packaged.exists() else PACKAGE_DIR.parent


_PRIVATE: list[Path | None] = []


def private_cache() -> Path | None:
    """A folder of this user's alone for what qms keeps between runs to start faster (the
    declarations it parsed): `qms-cache-UID` in the temporary folder, made readable by
    this user only. None where there is none to be had (no such folder can be made, or the
    one there is not this user's alone, or no user IDs: Windows): nothing is then kept."""
    if not _PRIVATE:
        import stat
        import tempfile

        found = None
        if hasattr(os, "getuid"):
            folder = Path(tempfile.gettempdir()) / f"qms-cache-{os.getuid()}"
            try:
                try:
                    os.mkdir(folder, 0o700)
                except FileExistsError:
                    pass
                st = os.lstat(folder)
                if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077:
                    found = folder
            except OSError:
                pass
        _PRIVATE.append(found)
    return _PRIVATE[0]
