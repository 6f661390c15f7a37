"""Files written whole or not at all (ground floor: imports nothing of the project).

Example::

    write_atomic(Path("models/current/model_card.json"), payload)
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)

__all__ = ["write_atomic"]


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a synced temporary file and one rename.

    Readers see the old file or the new one, never a half-written one, and a crash leaves
    no temporary file behind (it is removed on any error). Parent folders are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    logger.debug("wrote %s (%d bytes)", path, len(data))
