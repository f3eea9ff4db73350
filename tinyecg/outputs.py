"""Writing outputs so that a failure or a kill never leaves a half-written or mixed set.

Every file and folder tinyecg writes (run directories, reports, exports, caches, benchmark
JSON) goes through here:

- `staged(dest)` yields a temporary path beside `dest` that replaces it only when the block
  succeeds (one file, or one folder swapped whole);
- `write_set(folder, files)` replaces a set of files in a folder all at once: the new set is
  written into a temporary copy of the folder (other files hard-linked in), then the copy
  takes the folder's place;
- every temporary name starts with PARTIAL and carries the writer's process id, so `sweep`
  removes what a killed run left behind (entries whose process is gone) the next time
  anything is written beside them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from tinyecg.errors import TinyECGError

PARTIAL = ".tinyecg-partial-"


def _partial_name(dest: Path, what: str = "") -> Path:
    return dest.parent / f"{PARTIAL}{os.getpid()}-{secrets.token_hex(4)}{what}-{dest.name}"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except OSError:
            pass


def sweep(folder: Path) -> list[Path]:
    """Remove the partial outputs that runs no longer alive left in `folder`."""
    removed: list[Path] = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(PARTIAL):
            continue
        pid_text = entry.name[len(PARTIAL) :].split("-", 1)[0]
        if pid_text.isdigit() and not _pid_alive(int(pid_text)):
            _remove(entry)
            removed.append(entry)
    return removed


def _prepare_parent(dest: Path) -> Path:
    parent = dest.parent if str(dest.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TinyECGError(f"{dest}: cannot write ({exc.strerror or exc})") from None
    sweep(parent)
    return parent


@contextmanager
def staged(dest: Path, folder: bool = False) -> Iterator[Path]:
    """A temporary path beside `dest` (a folder, created, if `folder`) that replaces `dest`
    when the block succeeds; on any failure it is removed and `dest` is untouched. An
    existing folder is replaced whole."""
    dest = Path(dest)
    _prepare_parent(dest)
    tmp = _partial_name(dest)
    try:
        if folder:
            tmp.mkdir()
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(tmp, 0o777 & ~mask)
    except OSError as exc:
        raise TinyECGError(f"{dest}: cannot write ({exc.strerror or exc})") from None
    try:
        yield tmp
        _swap_into(tmp, dest)
    finally:
        if tmp.exists() or tmp.is_symlink():
            _remove(tmp)


def _swap_into(tmp: Path, dest: Path) -> None:
    if dest.is_dir() and not dest.is_symlink() and not tmp.is_dir():
        raise TinyECGError(f"{dest}: is a folder, cannot be replaced by a file")
    try:
        if dest.is_dir() and not dest.is_symlink():
            old = _partial_name(dest, "-old")
            os.replace(dest, old)
            try:
                os.replace(tmp, dest)
            except OSError:
                os.replace(old, dest)
                raise
            _remove(old)
        else:
            os.replace(tmp, dest)
    except OSError as exc:
        raise TinyECGError(f"{dest}: cannot write ({exc.strerror or exc})") from None


def _content_bytes(content: str | bytes) -> bytes:
    return content if isinstance(content, bytes) else content.encode()


def write_file(dest: Path, content: str | bytes) -> Path:
    """One file, all or nothing."""
    with staged(Path(dest)) as tmp:
        tmp.write_bytes(_content_bytes(content))
    return Path(dest)


def _jsonable(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def json_text(obj) -> str:
    return json.dumps(obj, indent=2, default=_jsonable) + "\n"


def write_json(dest: Path, obj) -> Path:
    """JSON, all or nothing, creating the folder if needed."""
    return write_file(dest, json_text(obj))


def check_set(folder: Path, names, force: bool) -> None:
    """The checks write_set makes before it writes anything (after sweeping what killed runs
    left beside the folder): raises TinyECGError naming the first problem."""
    folder = Path(folder)
    sweep(folder.parent if str(folder.parent) else Path("."))
    if folder.exists() and not folder.is_dir():
        raise TinyECGError(f"{folder}: exists and is not a folder")
    if not folder.is_dir():
        return
    if not force and any(not e.name.startswith(PARTIAL) for e in folder.iterdir()):
        raise TinyECGError(f"{folder}: folder is not empty (use --force to overwrite)")
    for name in names:
        target = folder / name
        if target.is_dir() and not target.is_symlink():
            raise TinyECGError(f"{target}: is a folder, cannot be replaced by a file")


def write_set(
    folder: Path,
    files: Mapping[str, str | bytes],
    force: bool = False,
    require_empty: bool = True,
    remove: Iterable[str] = (),
) -> Path:
    """Replace the files `files` (name -> content) in `folder` all at once; its other files
    are kept, except the names in `remove` (what an earlier version of the set had). With
    require_empty, a non-empty folder needs `force`."""
    folder = Path(folder)
    check_set(folder, files, force or not require_empty)
    dropped = set(remove)
    with staged(folder, folder=True) as tmp:
        if folder.is_dir():
            for entry in folder.iterdir():
                if entry.name in files or entry.name in dropped or entry.name.startswith(PARTIAL):
                    continue
                _link_or_copy(entry, tmp / entry.name)
        for name, content in files.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_content_bytes(content))
    return folder


@contextmanager
def write_set_folder(folder: Path) -> Iterator[Path]:
    """A temporary copy of `folder` to change; it replaces `folder` when the block succeeds,
    so `folder` only ever shows the old or the new set. (Copies, not hard links: the block
    may rewrite any file.)"""
    folder = Path(folder)
    check_set(folder, (), force=True)
    with staged(folder, folder=True) as tmp:
        if folder.is_dir():
            for entry in folder.iterdir():
                if entry.name.startswith(PARTIAL):
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.copytree(entry, tmp / entry.name, symlinks=True)
                else:
                    shutil.copy2(entry, tmp / entry.name, follow_symlinks=False)
        yield tmp


def _link_or_copy(src: Path, dst: Path) -> None:
    if src.is_dir() and not src.is_symlink():
        shutil.copytree(src, dst, symlinks=True, copy_function=_link_file)
    elif src.is_symlink():
        os.symlink(os.readlink(src), dst)
    else:
        _link_file(src, dst)


def _link_file(src, dst) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
