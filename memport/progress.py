"""Progress bars for the steps that take long, shown only where someone is watching.

Off by default: a library call prints nothing. :func:`shown` turns bars on for what runs inside it
(the CLI does so when stderr is a terminal and neither ``--quiet`` nor ``--json`` is given; in a
notebook, ``with memport.progress.shown(): ...``). Bars are ``tqdm.auto``: a widget in Jupyter, a
line of text in a terminal; each appears only once its step has run for ``delay`` seconds, and goes
away when the step is done.

No verb's signature grows for it. The streaming readers open their files through
:func:`open_read`, which, while bars are on, counts the bytes the file's buffer reads (a megabyte at
a time: nothing is added per line or per record, so a validation runs as fast with bars as
without); steps that go record by record (an export reading the store, re-embedding) use
:func:`counting`. A forked worker process (two-core validation and plans) shows no bar of its own.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any


@dataclass(frozen=True)
class _Settings:
    file: Any  # where bars are drawn (None: tqdm's default, stderr)
    delay: float
    pid: int  # the process that turned bars on: a forked worker shows none


_settings: _Settings | None = None
BUFFER = 1 << 20  # bytes a counted file reads at a time: one count per megabyte
DELAY = 1.0  # seconds a step runs before its bar appears: quick steps show none


@contextlib.contextmanager
def shown(enabled: bool = True, *, file: Any = None, delay: float | None = None) -> Iterator[None]:
    """Show progress bars for what runs inside (when ``enabled``); ``file`` is where a text bar is
    drawn (stderr by default), ``delay`` how long a step runs before its bar appears (``DELAY``)."""
    global _settings
    before = _settings
    _settings = _Settings(file, DELAY if delay is None else delay, os.getpid()) if enabled else None
    try:
        yield
    finally:
        _settings = before


def active() -> bool:
    """Whether bars are shown here (and now)."""
    return _settings is not None and _settings.pid == os.getpid()


class _Null:
    """The bar when none is shown: every call does nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _Null:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


_NULL = _Null()


def bar(total: int | None, description: str, *, unit: str = "it", scale: bool = False) -> Any:
    """A bar of ``total`` steps (a ``tqdm.auto`` bar, closed by ``with`` or ``close()``), or one that
    does nothing when bars are not shown."""
    if not active():
        return _NULL
    from tqdm.auto import tqdm  # only when shown: tqdm and its notebook check cost start-up time

    assert _settings is not None
    options: dict[str, Any] = {"file": _settings.file} if _settings.file is not None else {}
    return tqdm(
        total=total,
        desc=description,
        unit=unit,
        unit_scale=scale,
        unit_divisor=1024 if scale else 1000,
        delay=_settings.delay,
        leave=False,
        dynamic_ncols=True,
        **options,
    )


def counting(total: int | None, description: str, unit: str = "record") -> Any:
    """A bar that a step advances by records (``update(n)``)."""
    return bar(total, description, unit=unit)


class _Counted(io.FileIO):
    """A file that advances a bar by the bytes each read of its buffer brings in."""

    def __init__(self, path: Path, progress: Any, limit: int):
        super().__init__(path, "rb")
        self.progress, self.left = progress, limit  # bytes of the range still to count

    def readinto(self, buffer: Any) -> int | None:
        n = super().readinto(buffer)
        if n and self.left > 0:
            counted = min(n, self.left)
            self.left -= counted
            self.progress.update(counted)
        return n

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.progress.close()


def open_read(path: Path | str, start: int = 0, end: int | None = None) -> IO[bytes]:
    """``open(path, "rb")``, with a bar over the bytes from ``start`` to ``end`` (the end of the file)
    while bars are shown. The caller seeks to ``start`` itself."""
    if not active():
        return open(path, "rb")
    path = Path(path)
    size = max((end if end is not None else path.stat().st_size) - start, 0)
    return io.BufferedReader(_Counted(path, bar(size, path.name, unit="B", scale=True), size), buffer_size=BUFFER)
