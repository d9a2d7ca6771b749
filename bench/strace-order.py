#!/usr/bin/env python3
"""Place the pages a cycle lost among mariadbd's own writes and fsyncs.

  strace-order.py CYCLE_DIR [N]

CYCLE_DIR is a cycle folder of bench/mariadb-fsync-trace.ts run with --strace
(and --set innodb-use-native-aio=0, so that page writes are pwrite64 calls
strace sees, not io_uring submissions): strace.txt (strace -f -tt -T),
fds.txt (/proc/PID/fd at the cut), threads.txt (thread names) and
analysis.json (pages whose page-cache copy is older than the device's
checkpoint LSN but newer than the device copy). For the first N such pages
(default 4) it prints: the last pwrite64 of the page (start, end, thread),
the last fsync/fdatasync of its file that started before that write ended,
whether any started after it, the checkpoint-block write of ib_logfile0
(offset 4096 or 8192) that followed, and the log sync after it.
"""
import json
import re
import sys

LINE = re.compile(r"^(\d+) (\d+):(\d+):([\d.]+) (\w+)\((\d+)(.*?)\)\s+= (-?\d+)(?: \S+)*? <([\d.]+)>$")
UNFINISHED = re.compile(r"^(\d+) (\d+:\d+:[\d.]+) (\w+)\((.*) <unfinished \.\.\.>$")
RESUMED = re.compile(r"^(\d+) \d+:\d+:[\d.]+ <\.\.\. (\w+) resumed>(.*)$")


def seconds(hms):
    h, m, s = hms.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def events(path, fds):
    """Completed syscalls: a call split by another thread ('unfinished' ... 'resumed') is joined first."""
    open_calls = {}
    out = []
    for raw in open(path):
        line = raw.rstrip("\n")
        u = UNFINISHED.match(line)
        if u:
            open_calls[u.group(1)] = u
            continue
        r = RESUMED.match(line)
        if r and r.group(1) in open_calls:
            u = open_calls.pop(r.group(1))
            line = f"{u.group(1)} {u.group(2)} {u.group(3)}({u.group(4)}{r.group(3)}"
        m = LINE.match(line)
        if not m:
            continue
        tid, h, mi, s, call, fd, rest, _ret, dur = m.groups()
        t = seconds(f"{h}:{mi}:{s}")
        off = length = None
        if call.startswith("pwrite"):
            w = re.search(r", (\d+), (\d+)$", rest)
            if w:
                length, off = int(w.group(1)), int(w.group(2))
        out.append({"tid": tid, "t": t, "end": t + float(dur), "call": call, "file": fds.get(int(fd), fd), "off": off, "len": length})
    return out


def main():
    d = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    fds = {}
    for line in open(f"{d}/fds.txt"):
        m = re.search(r" (\d+) -> (\S+)", line)
        if m:
            fds[int(m.group(1))] = m.group(2).split("/mysql/")[-1]
    names = {}
    try:
        for line in open(f"{d}/threads.txt"):
            tid, name = line.split(" ", 1)
            names[tid] = name.strip()
    except OSError:
        pass
    who = lambda tid: f"{tid} ({names[tid]})" if tid in names else tid
    analysis = json.load(open(f"{d}/analysis.json"))
    checkpoint = analysis["summary"]["checkpointLsnOnDevice"]
    lost = [p for p in analysis["newerInCache"] if p["belowCheckpoint"]]
    ev = events(f"{d}/strace.txt", fds)
    cp = [e for e in ev if e["file"] == "ib_logfile0" and e["call"].startswith("pwrite") and e["off"] in (4096, 8192)]
    print(f"{len(ev)} syscalls; checkpoint LSN on the device {checkpoint}; {len(lost)} pages below it whose newer copy never reached the device")
    for p in lost[:n]:
        f = p["file"].split("mysql/")[-1]
        at = p["page"] * 16384
        writes = [e for e in ev if e["file"] == f and e["call"].startswith("pwrite") and e["off"] is not None and e["off"] <= at < e["off"] + e["len"]]
        print(f"{p['file']} page {p['page']}: device LSN {p['devLsn']}, page-cache LSN {p['cacheLsn']} (dirty {p['dirty']}/4, writeback {p['writeback']}/4)")
        if not writes:
            print("  no pwrite64 of it in the trace (io_uring?)")
            continue
        w = writes[-1]
        print(f"  pwrite64 {w['t']:.6f}-{w['end']:.6f} by {who(w['tid'])}")
        syncs = [e for e in ev if e["file"] == f and e["call"] in ("fsync", "fdatasync")]
        before = [e for e in syncs if e["t"] <= w["end"]]
        after = [e for e in syncs if e["t"] > w["end"]]
        if before:
            b = before[-1]
            print(f"  last {b['call']} of {f} starting before the write ended: {b['t']:.6f}-{b['end']:.6f} by {who(b['tid'])}")
        print(f"  {b['call'] if before else 'fsync'}s of {f} starting after it: {len(after)}")
        for c in [e for e in cp if e["t"] > w["end"]][:1]:
            print(f"  checkpoint block write of ib_logfile0 at {c['off']}: {c['t']:.6f}-{c['end']:.6f} by {who(c['tid'])}")
            logsync = [e for e in ev if e["file"] == "ib_logfile0" and e["call"] in ("fsync", "fdatasync") and e["t"] >= c["end"]][:1]
            for s in logsync:
                print(f"  then {s['call']}(ib_logfile0) {s['t']:.6f}-{s['end']:.6f} by {who(s['tid'])}")


main()
