"""Keep what native libraries (TensorFlow's C++ core, absl, the TFLite converter, XNNPACK) write straight to file
descriptor 2 off the console: captured while they run and logged at DEBUG, which `edgekit --verbose` shows.

TensorFlow's import prints cuDNN/cuBLAS factory errors and "computation placer already registered" through absl
before absl is initialized, so no environment variable (TF_CPP_MIN_LOG_LEVEL, GLOG_minloglevel) silences them: the
only way to keep them off the console is to point fd 2 elsewhere while TensorFlow loads. `quiet_first_imports`
does that for the first import of TensorFlow wherever it happens (tf_keras, tensorflowjs and tfmot import it too).
"""

from __future__ import annotations

import contextlib
import importlib.abc
import logging
import os
import sys
import tempfile
from collections.abc import Iterator

log = logging.getLogger("edgekit")
# Top-level packages whose first import loads TensorFlow's native libraries.
NATIVE_PACKAGES = frozenset({"tensorflow"})


@contextlib.contextmanager
def native_stderr_to_debug_log() -> Iterator[None]:
    """Within the block, fd 2 goes to a buffer that is logged at DEBUG level afterwards.

    With DEBUG on (`edgekit --verbose`) nothing is redirected: native lines reach the terminal as they are written.
    Python exceptions still carry the real error either way.
    """
    if log.isEnabledFor(logging.DEBUG):
        yield
        return
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


class _QuietLoader(importlib.abc.Loader):
    """Another loader's module, executed with native stderr captured."""

    def __init__(self, loader: importlib.abc.Loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        module.__loader__ = module.__spec__.loader = self.loader  # the package as if loaded the ordinary way
        with native_stderr_to_debug_log():
            self.loader.exec_module(module)

    def __getattr__(self, name: str):
        return getattr(self.loader, name)


class _QuietFirstImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: hands the first import of a NATIVE_PACKAGES package to `_QuietLoader`."""

    def find_spec(self, fullname: str, path=None, target=None):
        if fullname not in NATIVE_PACKAGES or fullname in sys.modules:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _QuietLoader(spec.loader)
                return spec
        return None


def quiet_first_imports() -> None:
    """Install the finder once: from now on, TensorFlow's first import keeps its native chatter for --verbose."""
    if not any(isinstance(finder, _QuietFirstImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietFirstImport())


def import_tensorflow() -> None:
    """Import TensorFlow (once), its native start-up chatter kept for --verbose.

    Library code calls this where TensorFlow is first needed, after its inputs were checked, so that bad input
    fails in a fraction of a second rather than after the import.
    """
    if "tensorflow" in sys.modules:
        return
    with native_stderr_to_debug_log():
        import tensorflow  # noqa: F401
