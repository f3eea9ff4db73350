"""Downloading the MIT-BIH Arrhythmia Database from PhysioNet (through wfdb)."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from tinyecg.errors import TinyECGError

DATABASE = "mitdb"


def fetch(dest: Path) -> Path:
    """Download all 48 records into dest; on failure nothing is left behind."""
    import wfdb

    dest = Path(dest)
    if dest.exists() and any(dest.glob("*.hea")):
        raise TinyECGError(f"{dest}: already holds WFDB records")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        try:
            wfdb.dl_database(DATABASE, dl_dir=str(tmp))
        except Exception as exc:
            raise TinyECGError(f"cannot download {DATABASE} from PhysioNet "
                               f"({str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__})") from None
        if not any(tmp.glob("*.hea")):
            raise TinyECGError(f"download of {DATABASE} gave no records")
        if dest.exists():
            for p in tmp.iterdir():
                os.replace(p, dest / p.name)
        else:
            os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest
