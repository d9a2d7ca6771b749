#!/usr/bin/env python3
"""What the kernel's page cache holds of some files, read without any I/O.

  pagecache-probe.py PAGE_SIZE FILE...   ->  JSON on stdout

For every page of every file: the InnoDB header fields of the cached copy
(FIL_PAGE_OFFSET at byte 4, FIL_PAGE_LSN at byte 16, the space id at byte 34),
and cachestat(2) (Linux 6.5+) of the page's byte range: how many of its 4 KiB
cache pages are cached, dirty (written by the program, not yet written back)
and under writeback. Nothing may be read from the device: read(2), even with
RWF_NOWAIT, starts readahead, whose bio waits forever for a tag of the cut
loop device. So the header is read through a MADV_RANDOM mapping (no
readahead on a fault), and only from a 4 KiB page cachestat says is cached. Used right after a power cut of the device under the file system
(bench/mariadb-fsync-trace.ts), when a read that went to the device would
never be answered.
"""
import ctypes
import json
import mmap
import os
import sys

SYS_CACHESTAT = 451  # x86_64
libc = ctypes.CDLL(None, use_errno=True)


class Range(ctypes.Structure):
    _fields_ = [("off", ctypes.c_uint64), ("len", ctypes.c_uint64)]


class Stat(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in ("cache", "dirty", "writeback", "evicted", "recently_evicted")]


def cachestat(fd, off, length):
    r, s = Range(off, length), Stat()
    if libc.syscall(SYS_CACHESTAT, fd, ctypes.byref(r), ctypes.byref(s), 0) != 0:
        return None
    return {"cache": s.cache, "dirty": s.dirty, "writeback": s.writeback}


def probe(path, page):
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        pages = []
        view = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ) if size else b""
        if size:
            view.madvise(mmap.MADV_RANDOM)
        if path.endswith("ib_logfile0"):
            # The redo log: only its two checkpoint blocks (bytes 0x1000-0x2fff), if cached.
            st = cachestat(fd, 0x1000, 0x2000)
            blocks = view[0x1000:0x3000].hex() if st and st["cache"] == 2 and size >= 0x3000 else None
            view.close()
            return {"file": path, "size": size, "stat": st, "checkpointBlocks": blocks}
        for no in range((size + page - 1) // page):
            off = no * page
            st = cachestat(fd, off, page)
            first = cachestat(fd, off, 4096)
            head = None
            if first and first["cache"] == 1 and off + 4096 <= size:
                buf = view[off:off + 38]
                head = {
                    "no": int.from_bytes(buf[4:8], "big"),
                    "lsn": int.from_bytes(buf[16:24], "big"),
                    "space": int.from_bytes(buf[34:38], "big"),
                }
            pages.append({"page": no, "stat": st, "head": head})
        if size:
            view.close()
        return {"file": path, "size": size, "pages": pages}
    finally:
        os.close(fd)


def main():
    page = int(sys.argv[1])
    out = []
    for f in sys.argv[2:]:
        try:
            out.append(probe(f, page))
        except OSError as e:
            out.append({"file": f, "error": str(e)})
    json.dump(out, sys.stdout)


main()
