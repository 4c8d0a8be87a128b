#!/usr/bin/python3
"""W1 on Dask distributed: word count with a bag (2 worker processes x 1
thread).  Each partition is counted in one go: its lines joined, one
re.findall, one Counter (both at C speed); the Counters are merged in a tree
reduction."""
import collections
import re
import sys

import dask.bag as db

from common import dask_cluster

WORD = re.compile(r"[A-Za-z]+")


def count_part(lines):
    return collections.Counter(WORD.findall("".join(lines)))


def merge(counters):
    total = collections.Counter()
    for c in counters:
        total.update(c)
    return total


def main():
    path, top = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20
    with dask_cluster() as client:
        bag = db.read_text(path, blocksize="64MiB")
        counts = bag.reduction(count_part, merge, split_every=8).compute()
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    print("R distinct", len(items))
    for w, c in items[:top]:
        print("R", c, w)


if __name__ == "__main__":
    main()
