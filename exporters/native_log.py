"""Capture what native libraries (TensorFlow's C++ core, the TFLite converter) write straight to file descriptor 2."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator

log = logging.getLogger("edgekit")


@contextlib.contextmanager
def native_stderr_to_debug_log() -> Iterator[None]:
    """Within the block, fd 2 goes to a buffer that is logged at DEBUG level afterwards (`edgekit --verbose`).

    TensorFlow and the converter print dozens of lines that no user can act on ("Ignored output_format",
    cuDNN factories on a machine without GPU); Python exceptions still carry the real error.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as buffer:
        os.dup2(buffer.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            buffer.seek(0)
            text = buffer.read().decode(errors="replace").strip()
            if text:
                log.debug("%s", text)


def import_tensorflow() -> None:
    """Import TensorFlow (once), its native start-up chatter kept for --verbose.

    Library code calls this where TensorFlow is first needed, after its inputs were checked, so that bad input
    fails in a fraction of a second rather than after the import.
    """
    if "tensorflow" in sys.modules:
        return
    with native_stderr_to_debug_log():
        import tensorflow  # noqa: F401
