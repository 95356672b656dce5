"""Scoring 200,000 MNIST-sized images with the convnet of mnist_convnet.py on Dask.

    python examples/dask_scoring.py                     # a LocalCluster on this machine
    python examples/dask_scoring.py --images 5000       # fewer images: a quick try
    python examples/dask_scoring.py --scheduler tcp://scheduler:8786   # an existing cluster

The model is compiled here and travels to the workers as its artifact, once;
each worker process loads and checks it once (layerc.dask). The images are
random, drawn chunk by chunk on the workers; only the predicted classes come
back. Needs the `dask` extra:
`pip install -e '.[dask]'`. Prints the dashboard address, a progress bar while
the job runs, and the throughput; then checks the first chunk against
CompiledModel.predict here.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import numpy as np

import layerc

SIDE = 28


def convnet() -> layerc.Sequential:
    """The convnet of examples/mnist_convnet.py (same layers, same seed)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from mnist_convnet import build_model

    return build_model()


def images(n: int, chunk: int) -> Any:
    """n random images as a dask array: each chunk is drawn on the worker
    that scores it (from its own seed, so the same call gives the same
    images), and nothing large crosses the network."""
    import dask.array as da

    rng = da.random.default_rng(0)
    return rng.random((n, SIDE, SIDE, 1), dtype=np.float32, chunks=(chunk, SIDE, SIDE, 1))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=200_000, help="how many images to score")
    ap.add_argument("--chunk", type=int, default=5000, help="images per task")
    ap.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    ap.add_argument("--threads-per-worker", type=int, default=1)
    ap.add_argument("--scheduler", help="an existing cluster's address, e.g. tcp://host:8786")
    args = ap.parse_args(argv)

    from dask.distributed import Client, LocalCluster, progress

    import layerc.dask

    compiled = layerc.compile(convnet())
    if args.scheduler:
        client = Client(args.scheduler)
    else:
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=args.threads_per_worker,
                               processes=True)
        client = Client(cluster)
    with client:
        print(f"dashboard: {client.dashboard_link}")
        print(f"workers: {len(client.scheduler_info()['workers'])}, "
              f"{args.images} images in chunks of {args.chunk}")
        x = images(args.images, args.chunk)
        classes = layerc.dask.predict(compiled, x).argmax(axis=1)
        start = time.perf_counter()
        future = client.compute(classes)
        progress(future)
        result = future.result()
        seconds = time.perf_counter() - start
        print(f"\nscored {len(result)} images in {seconds:.2f} s: "
              f"{len(result) / seconds:,.0f} images/s (the first chunks include each worker's "
              f"one load of the model)")
        print("class counts:", np.bincount(result, minlength=10).tolist())
        sample = x[: min(args.chunk, args.images)].compute()
        same = np.array_equal(result[: len(sample)], compiled.predict(sample).argmax(axis=1))
        print("first chunk's classes equal CompiledModel.predict here:", same)
        if not same:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
