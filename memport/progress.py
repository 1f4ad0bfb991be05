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


@dataclass(frozen=True)
class Reading:
    """Where a step is: ``done`` of ``total`` units, its rate (units per second; None before a
    rate can be measured) and the seconds left at that rate (None when unknown)."""

    done: int
    total: int
    rate: float | None
    left: float | None

    def text(self, unit: str = "memories") -> str:
        """``120 of 500 memories (24%), 35.2 memories/s, about 11 s left``."""
        share = f" ({self.done / self.total:.0%})" if self.total else ""
        said = f"{self.done} of {self.total} {unit}{share}"
        if self.rate is not None:
            said += f", {self.rate:.1f} {unit}/s"
        if self.left is not None:
            said += f", about {seconds_text(self.left)} left"
        return said


class Pace:
    """The rate and time left of a step that reports how far it is, e.g. re-embedding's
    ``on_progress(done, total)`` after each batch. The rate is measured from the first report on:
    what ran before it is not the step's pace (measured on a busy 2-core machine: 7.6 s to load the
    model, then 0.2 s a batch of two memories), so the first report has no rate yet. ``clock`` is
    injectable."""

    def __init__(self, clock: Any = None):
        import time

        self.clock = clock or time.perf_counter
        self._first: tuple[float, int] | None = None

    def update(self, done: int, total: int) -> Reading:
        now = self.clock()
        rate = None
        if self._first is None:
            self._first = (now, done)
        else:
            since, base = self._first
            elapsed, moved = now - since, done - base
            rate = moved / elapsed if elapsed > 0 and moved > 0 else None
        left = 0.0 if done >= total else (total - done) / rate if rate else None
        return Reading(done, total, rate, left)


def seconds_text(seconds: float) -> str:
    """``7 s``, ``2 min 5 s``, ``1 h 3 min``: a duration as a person reads it."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"
