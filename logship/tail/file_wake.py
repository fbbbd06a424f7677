"""FileWakeups: the next write to a quiet open file wakes the tailer at once (inotify, one-shot).

Folder events (`logship.tail.watcher`) say which files exist; this says which open files grew. The
tailer arms a watch on a file only once it has been quiet past its first re-check, and the watch
is one-shot (`IN_ONESHOT`): the first write fires one event and the kernel removes the watch.
So a busy file, which the tailer follows closely anyway, is not watched and costs nothing;
a quiet file costs one watch and, when it is written again, one event. (watchdog's folder
watches cannot do this: they report every write of every file in the folder, about 3.5 us of
CPU per write in its threads, and nothing at all for files reached through a symlink into
another folder.)

The watch is added on `/proc/self/fd/N`, the open descriptor, so it is on the inode being
read: symlinks, a file renamed away by rotation and a file deleted while open are all covered.

Events are only wake-ups; the poll timer stays the truth and the safety net. Files are not
watched (and so are found by the timer, as before) where inotify is missing (not Linux), on
file systems whose writes it does not see (NFS, FUSE: other hosts' writes), and while the
inotify watch limit (`fs.inotify.max_user_watches`) is reached.

Threads: `arm`, `disarm`, `fired` and `close` are called by the tailer's thread only; a small
reader thread turns inotify events into watch ids on a deque and sets the tailer's wake event.
It does O(1) work per event, and events are bounded: at most two per armed watch (the write,
then `IN_IGNORED` for the removal).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import logging
import os
import select
import struct
import threading
import time
from collections import deque

from logship.core.process import name_native_thread

log = logging.getLogger(__name__)

IN_MODIFY = 0x00000002
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONESHOT = 0x80000000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len (of the name that follows)
_OVERFLOW = -1  # wd of IN_Q_OVERFLOW: events were lost, wake every watched file
_RETRY_AFTER_FAILURE = 30.0  # seconds without new watches after the limit was hit


class _Inotify:
    """The three libc calls, through ctypes (no extra dependency)."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self._init1 = libc.inotify_init1
        self._init1.argtypes = [ctypes.c_int]
        self._add = libc.inotify_add_watch
        self._add.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        self._rm = libc.inotify_rm_watch
        self._rm.argtypes = [ctypes.c_int, ctypes.c_int]

    def init(self) -> int:
        fd = int(self._init1(IN_NONBLOCK | IN_CLOEXEC))
        if fd < 0:
            raise _os_error()
        return fd

    def add_watch(self, fd: int, path: str, mask: int) -> int:
        wd = int(self._add(fd, os.fsencode(path), mask))
        if wd < 0:
            raise _os_error()
        return wd

    def rm_watch(self, fd: int, wd: int) -> None:
        self._rm(fd, wd)  # EINVAL when the kernel removed it already (fired, file gone): fine


def _os_error() -> OSError:
    code = ctypes.get_errno()
    return OSError(code, os.strerror(code))


class FileWakeups:
    """One-shot modify watches on open files, keyed by the tailer's file key."""

    def __init__(self, wake: threading.Event) -> None:
        self._wake = wake
        self._api: _Inotify | None = None
        self._fd = -1
        self._stop_r = self._stop_w = -1
        self._thread: threading.Thread | None = None
        self._fired: deque[int] = deque()
        self._key_of: dict[int, str] = {}
        self._wd_of: dict[str, int] = {}
        self._unavailable = not os.path.isdir("/proc/self/fd")  # no inotify, or no /proc
        self._paused_until = 0.0  # the watch limit was hit: no new watches until then
        self._warned = False
        self.failures = 0
        """Watches that could not be added (limit reached, odd file system)."""

    @property
    def armed(self) -> int:
        """How many files are watched now."""
        return len(self._wd_of)

    def is_armed(self, key: str) -> bool:
        """True if the file has a watch that has not fired yet."""
        return key in self._wd_of

    def arm(self, key: str, fd: int) -> bool:
        """Watches the file open on `fd` for its next write; False if it cannot be watched.

        After a True, a write to the file wakes the tailer; a write that came just before the
        watch did not, so the caller checks the size once more afterwards.
        """
        if key in self._wd_of:
            return True
        if self._unavailable or time.monotonic() < self._paused_until:
            return False
        try:
            if self._fd < 0:
                self._start()
            assert self._api is not None
            wd = self._api.add_watch(self._fd, f"/proc/self/fd/{fd}", IN_MODIFY | IN_ONESHOT)
        except (OSError, AttributeError) as exc:  # AttributeError: a libc without inotify
            self._failed(exc)
            return False
        stale = self._key_of.get(wd)
        if stale is not None:  # the kernel reused the id of a watch it removed: forget the old
            self._wd_of.pop(stale, None)
        self._key_of[wd] = key
        self._wd_of[key] = wd
        return True

    def disarm(self, key: str) -> None:
        """Stops watching the file (it is being closed)."""
        wd = self._wd_of.pop(key, None)
        if wd is None:
            return
        self._key_of.pop(wd, None)
        if self._api is not None:
            self._api.rm_watch(self._fd, wd)

    def fired(self) -> list[str]:
        """Keys of the files written since their watch was armed (each watch fires once)."""
        keys: list[str] = []
        while self._fired:
            wd = self._fired.popleft()
            if wd == _OVERFLOW:  # the kernel's queue overflowed: any watch may have fired
                keys += list(self._wd_of)
                for key in list(self._wd_of):
                    self.disarm(key)
                continue
            fired = self._key_of.pop(wd, None)
            if fired is not None:
                del self._wd_of[fired]
                keys.append(fired)
        return keys

    def close(self) -> None:
        """Stops the reader thread and drops every watch."""
        if self._thread is not None:
            os.write(self._stop_w, b"x")
            self._thread.join(timeout=5)
            self._thread = None
        for fd in (self._fd, self._stop_r, self._stop_w):
            if fd >= 0:
                os.close(fd)
        self._fd = self._stop_r = self._stop_w = -1
        self._key_of.clear()
        self._wd_of.clear()
        self._fired.clear()

    def _start(self) -> None:
        self._api = _Inotify()
        self._fd = self._api.init()
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._read_events, name="file-wake", daemon=True)
        self._thread.start()

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        code = exc.errno if isinstance(exc, OSError) else None
        if code in (errno.ENOSPC, errno.ENOMEM, errno.EMFILE):
            # Watch or instance limits (fs.inotify.max_user_watches / max_user_instances)
            # are shared with every process of the user: try again later.
            self._paused_until = time.monotonic() + _RETRY_AFTER_FAILURE
            reason = "an inotify limit is reached (fs.inotify.max_user_watches or instances)"
        elif code == errno.ENOSYS or not isinstance(exc, OSError):
            self._unavailable = True  # no inotify on this system: polling only, for good
            reason = "inotify is not available"
        else:
            return  # this one file (an odd file system): polled, as before
        if self._warned:
            return
        self._warned = True
        log.warning(
            "A quiet file cannot be watched: %s; quiet files are found by polling.",
            reason,
            extra={"error": str(exc), "watched": len(self._wd_of)},
        )

    def _read_events(self) -> None:
        name_native_thread("logship-wake")
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        poller.register(self._stop_r, select.POLLIN)
        while True:
            ready = {fd for fd, _ in poller.poll()}
            if self._stop_r in ready:
                return
            try:
                data = os.read(self._fd, 64 * 1024)
            except BlockingIOError:
                continue
            offset = 0
            while offset + _EVENT.size <= len(data):
                wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
                offset += _EVENT.size + length
                self._fired.append(_OVERFLOW if mask & IN_Q_OVERFLOW else wd)
            self._wake.set()
