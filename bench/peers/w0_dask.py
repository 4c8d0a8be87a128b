#!/usr/bin/python3
"""W0 on Dask distributed.

  w0_dask.py start                 start a LocalCluster(2x1), run one task, shut down
  w0_dask.py sched [TASKS] [JOBS]  TASKS trivial tasks (client.map + gather), then
                                   JOBS trivial computes one after another
"""
import sys
import time

from common import dask_cluster


def one(x):
    return x


def main():
    mode = sys.argv[1]
    with dask_cluster() as client:
        if mode == "start":
            print("R tasks", client.submit(one, 1).result())
            return
        ntasks = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
        njobs = int(sys.argv[3]) if len(sys.argv) > 3 else 100
        client.gather(client.map(one, [1, 2], pure=False))  # warm up
        t0 = time.perf_counter()
        futs = client.map(one, range(ntasks), pure=False)
        n = len(client.gather(futs))
        t1 = time.perf_counter()
        del futs
        print("M tasks_s %.6f" % (t1 - t0))
        lat = []
        total = 0
        t2 = time.perf_counter()
        for i in range(njobs):
            a = time.perf_counter()
            total += client.submit(one, 1, pure=False).result()
            lat.append(time.perf_counter() - a)
        t3 = time.perf_counter()
        lat.sort()
        print("M jobs_s %.6f" % (t3 - t2))
        print("M job_median_s %.6f" % lat[len(lat) // 2])
        print("R tasks", n)
        print("R jobs", total)


if __name__ == "__main__":
    main()
