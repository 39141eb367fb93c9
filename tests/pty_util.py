"""A pseudo-terminal pair standing in for a reader's serial port: the test writes the reader's
bytes to the master, the driver opens the slave with real pyserial."""

from __future__ import annotations

import contextlib
import os
import tty
from collections.abc import Iterator


@contextlib.contextmanager
def pty_pair() -> Iterator[tuple[int, str]]:
    """(master fd the test writes to, slave device name the driver opens), both ends in raw
    mode before anything is written (so 0x03 is data, not Ctrl-C)."""
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    try:
        yield master, os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)
