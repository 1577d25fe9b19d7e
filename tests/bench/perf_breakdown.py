#!/usr/bin/env python3
"""Splits a perf profile of `fieldcase-bench store` into where the timed work went.

Reads `perf script` output (recorded with --call-graph dwarf) on stdin. Counts only samples of a
measurement (under measure_store) that are not set-up (build_table, make_rows, random_ids) and
not the untimed close, and buckets each by the first match on its call stack:

  perf record -e cpu-clock --call-graph dwarf,16384 -o fc.data \\
      fieldcase-bench store --engine fieldcase --workload scan --runs 3 --json
  perf script -i fc.data | tests/bench/perf_breakdown.py

cpu-clock samples on-CPU time only (every 250 us at perf's default 4000 Hz); time spent
waiting for the disk or for another process's CPU does not appear.
"""
import collections
import sys

SETUP = ("build_table", "make_rows", "random_ids", "sqlite3LeaveMutexAndCloseZombie",
         "sqlite3_close")
BUCKETS = (
    ("page decryption (XChaCha20-Poly1305)", ("PageCipher::decrypt",)),
    ("page encryption (XChaCha20-Poly1305 + nonce)", ("PageCipher::encrypt",)),
    ("guarded key memory (sodium_malloc/free)", ("sodium_malloc", "sodium_free")),
    ("SQLCipher crypto (OpenSSL)", ("libcrypto.so",)),
    ("system calls and kernel", ("[kernel.kallsyms]",)),
)


def bucket(frames):
    chain = "\n".join(frames)
    for name, needles in BUCKETS[:-1]:
        if any(n in chain for n in needles):
            return name
    if frames and BUCKETS[-1][1][0] in frames[0]:
        return BUCKETS[-1][0]
    return "SQLite and the rest"


def main():
    counts = collections.Counter()
    for sample in sys.stdin.read().split("\n\n"):
        frames = [line.strip() for line in sample.strip().split("\n")[1:]]
        chain = "\n".join(frames)
        if "measure_store" not in chain or any(s in chain for s in SETUP):
            continue
        counts[bucket(frames)] += 1
    total = sum(counts.values())
    if total == 0:
        sys.exit("no samples of a measurement: record with --call-graph dwarf")
    print(f"{total} samples ({total / 4:.0f} ms of CPU at 4000 Hz)")
    for name, n in counts.most_common():
        print(f"{100 * n / total:5.1f}%  {n / 4:8.1f} ms  {name}")


if __name__ == "__main__":
    main()
