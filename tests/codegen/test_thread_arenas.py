"""codegen.base.ThreadArenas: the arenas a program keeps between calls are
bounded per thread, across threads and in size, go when a thread ends, and go
with their owner."""

import gc
import threading
import weakref

import numpy as np

from layerc.codegen.base import MAX_ARENAS, ThreadArenas

FLOATS = 10  # floats per sample; 40 bytes


class Tracked:
    """An allocator that remembers a weak reference to every arena it made."""

    def __init__(self) -> None:
        self.made: list[weakref.ref] = []

    def __call__(self, floats: int) -> np.ndarray:
        arena = np.empty(floats, np.float32)
        self.made.append(weakref.ref(arena))
        return arena

    def alive(self) -> int:
        return sum(ref() is not None for ref in self.made)


def in_thread(fn) -> None:
    t = threading.Thread(target=fn)
    t.start()
    t.join()


def test_a_kept_batch_size_gets_the_same_arena_without_allocating():
    made = Tracked()
    arenas = ThreadArenas(made, cache_bytes=10_000, keep_bytes=1_000)
    first = arenas.get(FLOATS, 4)
    assert arenas.get(FLOATS, 4) is first and len(made.made) == 1
    assert first.size == 40 and arenas.nbytes == 160


def test_an_arena_over_keep_bytes_is_not_kept():
    made = Tracked()
    arenas = ThreadArenas(made, cache_bytes=10_000, keep_bytes=1_000)
    big = arenas.get(FLOATS, 30)  # 1200 bytes
    assert arenas.get(FLOATS, 30) is not big and arenas.nbytes == 0
    del big
    gc.collect()
    assert made.alive() == 0


def test_a_thread_keeps_its_last_batch_sizes():
    arenas = ThreadArenas(Tracked(), cache_bytes=10_000, keep_bytes=1_000)
    for batch in range(1, MAX_ARENAS + 3):
        arenas.get(FLOATS, batch)
    kept = sum(range(3, MAX_ARENAS + 3)) * FLOATS * 4
    assert arenas.nbytes == kept  # the oldest went first


def test_threads_together_stay_within_cache_bytes():
    made = Tracked()
    arenas = ThreadArenas(made, cache_bytes=2_000, keep_bytes=1_000)
    held = []
    barrier = threading.Barrier(8)

    def work() -> None:
        held.append(arenas.get(FLOATS, 20))  # 800 bytes each: two fit
        barrier.wait()  # every thread alive at once

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
        assert arenas.nbytes <= 2_000
    for t in threads:
        t.join()
    assert len(made.made) == 8  # each ran in an arena of its own


def test_a_thread_makes_room_among_its_own_arenas():
    arenas = ThreadArenas(Tracked(), cache_bytes=2_000, keep_bytes=1_000)
    arenas.get(FLOATS, 20)
    arenas.get(FLOATS, 20)
    arenas.get(FLOATS, 24)  # 800 + 960 fit
    arenas.get(FLOATS, 25)  # 1000 more: the batch-20 arena goes
    assert arenas.nbytes == 960 + 1000


def test_a_threads_arenas_go_when_it_ends():
    made = Tracked()
    arenas = ThreadArenas(made, cache_bytes=10_000, keep_bytes=1_000)
    in_thread(lambda: arenas.get(FLOATS, 7))
    gc.collect()
    assert arenas.nbytes == 0 and made.alive() == 0
    arenas.get(FLOATS, 7)  # its bytes are free for others
    assert arenas.nbytes == 280


def test_arenas_go_with_their_owner_without_the_cycle_collector():
    made = Tracked()
    arenas = ThreadArenas(made, cache_bytes=10_000, keep_bytes=1_000)
    alive = threading.Event()
    stop = threading.Event()
    owner = weakref.ref(arenas)

    def serve() -> None:  # a pool thread that outlives the arenas' owner
        owner().get(FLOATS, 3)
        alive.set()
        stop.wait()

    t = threading.Thread(target=serve)
    t.start()
    alive.wait()
    arenas.get(FLOATS, 5)
    gc.disable()
    try:
        del arenas
        assert made.alive() == 0
    finally:
        gc.enable()
        stop.set()
        t.join()


def test_clear_drops_every_threads_arenas():
    arenas = ThreadArenas(Tracked(), cache_bytes=10_000, keep_bytes=1_000)
    ready, stop = threading.Event(), threading.Event()

    def serve() -> None:
        arenas.get(FLOATS, 3)
        ready.set()
        stop.wait()

    t = threading.Thread(target=serve)
    t.start()
    ready.wait()
    arenas.get(FLOATS, 5)
    assert arenas.nbytes == (3 + 5) * FLOATS * 4
    arenas.clear()
    stop.set()
    t.join()
    assert arenas.nbytes == 0
