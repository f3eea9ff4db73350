"""Downloading the MIT-BIH Arrhythmia Database from PhysioNet (through wfdb)."""

from __future__ import annotations

from pathlib import Path

from tinyecg import outputs
from tinyecg.errors import TinyECGError

DATABASE = "mitdb"


def fetch(dest: Path) -> Path:
    """Download all 48 records into dest; on failure nothing is left behind."""
    import wfdb

    dest = Path(dest)
    if dest.exists() and any(dest.glob("*.hea")):
        raise TinyECGError(f"{dest}: already holds WFDB records")
    with outputs.write_set_folder(dest) as tmp:
        try:
            wfdb.dl_database(DATABASE, dl_dir=str(tmp))
        except Exception as exc:
            why = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            raise TinyECGError(f"cannot download {DATABASE} from PhysioNet ({why})") from None
        if not any(tmp.glob("*.hea")):
            raise TinyECGError(f"download of {DATABASE} gave no records")
    return dest
