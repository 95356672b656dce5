"""The sgemm peak a profile compares with: the rate of the best timed call,
and a description of how it was measured."""

import itertools

from layerc.runtime import peak as peak_module
from layerc.runtime.peak import sgemm_gflops


def test_the_peak_is_the_best_calls_rate(monkeypatch):
    """With a clock that makes the three timed calls take 2, 1 and 3 ms, the
    peak is 2 * 64^3 flops in 1 ms (a unit slip or another count fails)."""
    ticks = itertools.chain.from_iterable((0, ns) for ns in (2_000_000, 1_000_000, 3_000_000))
    monkeypatch.setattr(peak_module.time, "perf_counter_ns", lambda: next(ticks))
    peak = sgemm_gflops(size=64, repeats=3)
    assert peak.gflops == 2 * 64 ** 3 / 1e6
    assert "sgemm 64^3 float32, best of 3" in peak.how


def test_a_real_measurement_and_its_thread_count():
    peak = sgemm_gflops(threads=1, size=64, repeats=1)
    assert 0.01 < peak.gflops < 1e5
    assert "1 thread(s)" in peak.how or "layerc's 1)" in peak.how
    assert "own thread count" in sgemm_gflops(size=64, repeats=1).how
