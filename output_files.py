"""output_files.py: the one set of rules for writing files. Every command writes through it.

The promise (README): bram-mlp never deletes or overwrites a file it did not write.

How it is kept:
- The ledger. Every folder bram-mlp writes into holds `.bram-mlp-files.json`, the files
  it wrote there with their sha256. A file may be replaced only while the ledger lists it
  with the sha256 it has now: a user's own file, or one of ours changed since, is never
  touched (write_file, check_file_replaceable).
- Folders written as a whole (a design's output folder, coe/<name>/) are built in a
  temporary sibling and swapped in; an existing one is replaced only if everything in it
  is in its ledger, unchanged (check_folder_replaceable, write_folders).
- Single files are written to a temporary file beside them and renamed into place: never
  half-written.
- No output of a run may be one of its inputs, compared as files (os.path.samefile: links
  and hard links included), nor may an input lie inside a folder that is replaced.
Everything refused raises OutputError, one line naming the path and what to do; the
commands print it as `error: ...` and exit 2, before any work where the path is known.

This module imports nothing of the project's: every writer sits above it.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterable

TOOL = "bram-mlp"
LEDGER = ".bram-mlp-files.json"
MAX_NAMED = 5   # files named in an error line

Content = str | bytes


class OutputError(ValueError):
    """A path that may not be written (one line: the path, the problem, what to do)."""


# --------------------------------------------------------------------------- small helpers
def sha256_of(content: Content) -> str:
    return hashlib.sha256(content.encode() if isinstance(content, str) else content).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def names(paths: list[str]) -> str:
    """Up to MAX_NAMED paths, comma-separated, 'and N more'."""
    more = f" and {len(paths) - MAX_NAMED} more" if len(paths) > MAX_NAMED else ""
    return ", ".join(paths[:MAX_NAMED]) + more


def _as_bytes(content: Content) -> bytes:
    return content.encode() if isinstance(content, str) else content


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def tree(folder: Path) -> tuple[list[str], list[str]]:
    """(files, folders) under folder as relative posix paths; symbolic links count as files
    (never followed)."""
    files, dirs = [], []

    def fail(exc: OSError) -> None:
        raise exc

    for dirpath, dirnames, filenames in os.walk(folder, onerror=fail):
        here = Path(dirpath)
        for d in list(dirnames):
            rel = (here / d).relative_to(folder).as_posix()
            if (here / d).is_symlink():
                files.append(rel)
                dirnames.remove(d)
            else:
                dirs.append(rel)
        files += [(here / f).relative_to(folder).as_posix() for f in filenames]
    return sorted(files), sorted(dirs)


# --------------------------------------------------------------------------- the ledger
def ledger_text(files: dict[str, str]) -> str:
    return json.dumps({"tool": TOOL, "about": "files bram-mlp wrote in this folder, with "
                       "their sha256: it replaces only these, and only unchanged",
                       "files": dict(sorted(files.items()))}, indent=2) + "\n"


def read_ledger(folder: Path) -> dict[str, str] | None:
    """folder's ledger {relative path: sha256}; None when there is none. A file by that
    name that is not a ledger (a link, not JSON, another tool's) raises OutputError: it
    is not ours and must not be replaced."""
    path = folder / LEDGER
    if not path.exists() and not path.is_symlink():
        return None
    try:
        if path.is_symlink() or not path.is_file():
            raise ValueError
        data = json.loads(path.read_text())
        files = data["files"]
        if data.get("tool") != TOOL or not isinstance(files, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
            raise ValueError
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise OutputError(f"{path}: not bram-mlp's record of the files it wrote here, so "
                          "nothing in this folder can be replaced safely: move it away or "
                          "choose another place") from None
    return files


def is_ours(path: Path, ledger: dict[str, str] | None, rel: str) -> bool:
    """path (rel in its ledger) is a file bram-mlp wrote, unchanged since."""
    return (ledger is not None and rel in ledger and not path.is_symlink() and path.is_file()
            and sha256_file(path) == ledger[rel])


# --------------------------------------------------------------------------- inputs
def same_file(a: Path | str, b: Path | str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_not_an_input(output: Path, inputs: Iterable[Path | str | None],
                       what: str = "the output") -> None:
    """output (a file, or a folder that is replaced as a whole) is none of the run's
    inputs and holds none of them. Compared as files: a link or a hard link to an input
    counts as the input."""
    output = Path(output)
    for inp in inputs:
        if inp is None or not Path(inp).exists():
            continue
        inp = Path(inp)
        inside = (output.is_dir() and not output.is_symlink()
                  and inp.resolve().is_relative_to(output.resolve()))
        if same_file(output, inp):
            raise OutputError(f"{output}: {what} would replace the input {inp} of this run; "
                              "write the output elsewhere")
        if inside:
            raise OutputError(f"{output}: {what} holds the input {inp} of this run, which "
                              "would be replaced or deleted with it; write the output "
                              "elsewhere")


# --------------------------------------------------------------------------- places
MAX_NAME_BYTES = 255   # one file or folder name, as file systems allow


def name_too_long(path: Path | str) -> bool:
    """A name in path is longer than a file system allows (it would fail as an OSError)."""
    return any(len(os.fsencode(part)) > MAX_NAME_BYTES for part in Path(path).parts)


def check_writable_place(target: Path, what: str) -> None:
    """target (a file or folder to create or replace) can be made: its nearest existing
    ancestor is a folder we may write in."""
    if name_too_long(target):
        raise OutputError(f"{target}: a name in this path is longer than 255 bytes, more "
                          "than a file system allows; choose a shorter one")
    parent = Path(target).parent
    while not parent.exists() and not parent.is_symlink():
        if parent == parent.parent:
            break
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{target}: cannot create {what}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{target}: cannot create {what}: {parent} is not writable")


# --------------------------------------------------------------------------- single files
def check_file_replaceable(path: Path, what: str = "the output",
                           inputs: Iterable[Path | str | None] = (),
                           hint: str = "move it away or choose another name") -> None:
    """path may be written: not an input, not a folder, and either new or a file this tool
    wrote there (its folder's ledger lists it, unchanged). Raises OutputError."""
    path = Path(path)
    check_not_an_input(path, inputs, what)
    if path.is_dir() and not path.is_symlink():
        raise OutputError(f"{path}: is a folder; {what} is a file")
    if path.exists() or path.is_symlink():
        try:
            ours = is_ours(path, read_ledger(path.parent), path.name)
        except OSError as exc:
            raise OutputError(f"{path}: cannot read it ({exc.strerror or exc})") from None
        if not ours:
            raise OutputError(f"{path}: exists, and bram-mlp did not write it (or it was "
                              f"changed since); it is kept: {hint}")
    check_writable_place(path, what)


def write_file(path: Path, content: Content | Callable[[object], None],
               what: str = "the output", inputs: Iterable[Path | str | None] = ()) -> Path:
    """Write path atomically (a temporary file beside it, renamed into place) and record it
    in its folder's ledger. content: text, bytes, or a function that writes to a binary
    file object (np.save, np.savez). Checked as check_file_replaceable first."""
    path = Path(path)
    check_file_replaceable(path, what, inputs)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        ledger = read_ledger(path.parent) or {}
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:200]}.", suffix=".tmp",
                                   dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            if callable(content):
                content(f)
            else:
                f.write(_as_bytes(content))
        os.chmod(tmp, 0o666 & ~_umask())   # mkstemp makes it private; a normal file is wanted
        ledger[path.name] = sha256_file(Path(tmp))
        os.replace(tmp, path)
        tmp = None
        _write_ledger(path.parent, ledger)   # after the file: a file not yet recorded is
                                             # judged not ours (the safe side)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write {what} ({exc.strerror or exc})") from None
    return path


def _write_ledger(folder: Path, files: dict[str, str]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f"{LEDGER}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(ledger_text(files))
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, folder / LEDGER)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- whole folders
def not_ours(folder: Path, ledger: dict[str, str] | None,
             patterns: list[re.Pattern] = (), prefix: str = "") -> tuple[list[str], list[str]]:
    """(files bram-mlp did not write, files it wrote but someone changed since) in folder.
    Judged by the ledger, or, for a folder written before ledgers (ledger None), by
    `patterns` on the path (`prefix` + relative path)."""
    files, dirs = tree(folder)
    foreign, changed = [], []
    for rel in files:
        path = folder / rel
        if rel == LEDGER:
            continue                      # read and checked by the caller
        if ledger is not None:
            if rel not in ledger or path.is_symlink():
                foreign.append(rel)
            elif sha256_file(path) != ledger[rel]:
                changed.append(rel)
        elif path.is_symlink() or not any(p.fullmatch(prefix + rel) for p in patterns):
            foreign.append(rel)
    # folders: those holding a file of the ledger (or of a generated name) are ours
    known = set(ledger) if ledger is not None else {f for f in files if f not in foreign}
    ours = {"/".join(k.split("/")[:i]) for k in known for i in range(1, k.count("/") + 1)}
    for rel in dirs:
        if rel not in ours and not any(f.startswith(rel + "/") for f in foreign):
            foreign.append(rel + "/")
    return sorted(foreign), sorted(changed)


def _check_removable(folder: Path, dirs: list[str], option: str) -> None:
    """The old folder can be swapped out and deleted: every folder in it is writable."""
    for d in [folder] + [folder / rel for rel in dirs]:
        if not os.access(d, os.W_OK | os.X_OK):
            shown = "it" if d == folder else str(d.relative_to(folder)) + "/"
            raise OutputError(f"{folder}: cannot replace this earlier output, {shown} is "
                              f"read-only (chmod u+w it, or choose another {option})")


def check_folder_replaceable(folder: Path, option: str = "--out",
                             legacy: Callable[[Path], tuple[dict | None, list] | None]
                             | None = None) -> None:
    """folder may be created, or replaced as a whole: it is new, empty, or holds only what
    its ledger lists, unchanged. `legacy(folder)` judges a folder written before ledgers
    existed: (its old manifest or None, name patterns), or None if it is not ours at all.
    Raises OutputError naming up to five of the user's files."""
    folder = Path(folder)
    if folder.is_symlink() and folder.is_dir():
        folder = folder.resolve()  # a link to a folder stands for it: that folder is replaced
    try:
        if not folder.exists() and not folder.is_symlink():
            check_writable_place(folder, "the output folder")
            return
        if folder.is_symlink() or not folder.is_dir():
            raise OutputError(f"{folder}: exists and is not a folder; choose another {option}")
        files, dirs = tree(folder)
        if files or dirs:
            ledger, patterns = read_ledger(folder), []
            if ledger is None:
                old = legacy(folder) if legacy is not None else None
                # not an earlier output at all: nothing in it is ours
                ledger, patterns = old if old is not None else ({}, [])
            foreign, changed = not_ours(folder, ledger, patterns)
            if foreign or changed:
                said = []
                if foreign:
                    said.append(f"holds files bram-mlp did not write ({names(foreign)})")
                if changed:
                    said.append(f"holds files changed since bram-mlp wrote them "
                                f"({names(changed)})")
                raise OutputError(
                    f"{folder}: {' and '.join(said)}; the folder would be replaced as a "
                    f"whole: move them out or remove them, or choose another {option}")
        check_writable_place(folder, "the output folder")
        _check_removable(folder, dirs, option)
    except OSError as exc:
        raise OutputError(f"{exc.filename or folder}: cannot read it "
                          f"({exc.strerror or exc})") from None


def write_folders(files: dict[str, Content], targets: dict[str, Path]) -> None:
    """Write files atomically, folder by folder. `targets` maps a path prefix ("" or
    "coe/") to a folder; each file goes to the folder of the longest prefix it starts with.

    Each folder is built in a temporary sibling with its ledger, and swapped in only when
    all were written; an existing folder is replaced as a whole, never half-updated. Call
    check_folder_replaceable first: the folder replaced is deleted. Text is written as
    UTF-8 with the line ends as they are. A failure is an OutputError."""
    staged: list[tuple[Path, Path]] = []
    target = Path(".")
    try:
        for prefix, target in sorted(targets.items(), key=lambda t: -len(t[0])):
            target = target.resolve()
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
            staged.append((tmp, target))
            tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; a normal folder is wanted
            ledger = {}
            for rel, content in files.items():
                owner = max((p for p in targets if rel.startswith(p)), key=len)
                if owner != prefix:
                    continue
                path = tmp / rel[len(prefix):]
                path.parent.mkdir(parents=True, exist_ok=True)
                data = _as_bytes(content)
                path.write_bytes(data)
                ledger[rel[len(prefix):]] = sha256_of(data)
            (tmp / LEDGER).write_text(ledger_text(ledger))
    except BaseException as exc:
        for tmp, _ in staged:
            shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise OutputError(f"{target}: cannot write the output ({exc.strerror or exc}"
                              f"{': ' + str(exc.filename) if exc.filename else ''})") from None
        raise
    left = []
    for i, (tmp, target) in enumerate(staged):
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        try:
            had = target.exists()
            if had:
                target.rename(old)
            try:
                tmp.rename(target)
            except OSError:
                if had:
                    old.rename(target)
                raise
        except OSError as exc:
            for t, _ in staged[i:]:
                shutil.rmtree(t, ignore_errors=True)
            raise OutputError(f"{target}: cannot replace it ({exc.strerror or exc})") from None
        if had:
            shutil.rmtree(old, ignore_errors=True)
            if old.exists():
                left.append(old)
    if left:
        raise OutputError(f"{staged[-1][1]}: written, but the earlier output moved to "
                          f"{names([str(p) for p in left])} could not be deleted; "
                          "delete it by hand")
