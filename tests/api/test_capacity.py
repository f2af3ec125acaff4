"""api/capacity.py: the measured cost of live audio and the admission rule built on it."""

from __future__ import annotations

import asyncio
import time

import pytest

from audio_detect.exceptions import ParameterError
from audio_detect_service.capacity import StreamCapacity, watch_event_loop


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_no_estimate_until_enough_audio_is_timed_then_every_call_is_admitted() -> None:
    cap = StreamCapacity(threads=2, max_utilisation=0.8, min_audio_seconds=30, clock=Clock())
    assert cap.cost is None and cap.calls is None and cap.admits(10_000)
    cap.record(audio_seconds=20, busy_seconds=1.0)
    assert cap.cost is None and cap.admits(10_000)
    cap.record(audio_seconds=20, busy_seconds=1.0)
    assert cap.cost == pytest.approx(2.0 / 40)


def steady(cap: StreamCapacity, clock: Clock, *, calls: int, cost: float, seconds: int) -> None:
    """``calls`` live calls for ``seconds``, each second of audio costing ``cost``."""
    for _ in range(seconds):
        clock.t += 1.0
        cap.record(audio_seconds=float(calls), busy_seconds=calls * cost)


def test_calls_is_threads_times_utilisation_over_cost_and_admission_stops_there() -> None:
    clock = Clock()
    cap = StreamCapacity(threads=2, max_utilisation=0.8, min_audio_seconds=1, clock=clock)
    # 10 ms of pool time per second of call audio: 2 threads at 80 % keep 160 calls.
    steady(cap, clock, calls=100, cost=0.01, seconds=30)
    assert cap.calls == 160
    assert cap.utilisation == pytest.approx(0.5, rel=0.1)  # 100 calls * 0.01 / 2 threads
    assert cap.admits(159) and not cap.admits(160) and not cap.admits(500)
    # A final scoring (no new audio) is cost too.
    cap.record(audio_seconds=0.0, busy_seconds=cap.audio_seconds * 0.01)
    assert cap.calls == 80


def test_a_worker_under_half_its_utilisation_admits_whatever_the_estimate() -> None:
    """A cost measured at light load overstates the cost at heavy load: the estimate
    only refuses calls once the worker is busy."""
    clock = Clock()
    cap = StreamCapacity(threads=2, max_utilisation=0.8, min_audio_seconds=1, clock=clock)
    steady(cap, clock, calls=4, cost=0.1, seconds=30)  # 4 calls: 0.2 of the pool
    assert cap.calls == 16 and cap.utilisation == pytest.approx(0.2, rel=0.1)
    assert cap.admits(16) and cap.admits(100)
    steady(cap, clock, calls=8, cost=0.1, seconds=30)  # 0.4 of the pool: busy now
    assert cap.utilisation >= 0.4 and not cap.admits(16)
    clock.t += 60.0  # idle a minute: the current utilisation is gone, the cost is not
    assert cap.utilisation < 0.01 and cap.calls == 16 and cap.admits(16)


def test_the_estimate_follows_a_change_of_cost_with_its_half_life() -> None:
    clock = Clock()
    cap = StreamCapacity(
        threads=1, max_utilisation=1.0, half_life_seconds=10, min_audio_seconds=1, clock=clock
    )
    cap.record(audio_seconds=100, busy_seconds=1.0)  # 0.01
    clock.t = 10.0  # one half-life later the old sums weigh half
    cap.record(audio_seconds=100, busy_seconds=4.0)  # 0.04
    assert cap.cost == pytest.approx((0.5 + 4.0) / (50 + 100))
    assert cap.audio_seconds == pytest.approx(150)
    clock.t = 1000.0  # long idle: the estimate is forgotten, calls are admitted again
    assert cap.cost is None and cap.admits(1_000)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"threads": 0, "max_utilisation": 0.8}, "threads"),
        ({"threads": 2, "max_utilisation": 0.0}, "max_utilisation"),
        ({"threads": 2, "max_utilisation": 0.8, "half_life_seconds": 0}, "half_life"),
    ],
)
def test_bad_parameters_are_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        StreamCapacity(**kwargs)


def test_negative_durations_are_refused() -> None:
    cap = StreamCapacity(threads=1, max_utilisation=0.5)
    with pytest.raises(ParameterError, match="audio_seconds"):
        cap.record(audio_seconds=-1.0, busy_seconds=0.1)


def test_the_event_loop_cost_caps_the_calls_when_it_is_the_scarcer_resource() -> None:
    clock, cpu = Clock(), Clock()
    cap = StreamCapacity(
        threads=2, max_utilisation=0.8, min_audio_seconds=1, clock=clock, thread_clock=cpu
    )
    cap.record(audio_seconds=100.0, busy_seconds=0.5)  # pool: 1.6 / 0.005 = 320 calls
    assert cap.calls == 320 and cap.loop_cost is None
    cap.sample_event_loop()  # the first sample only sets the mark
    for _ in range(30):  # each second: 100 calls send 100 s of audio, the loop burns 0.4 s
        cap.received(100.0)
        clock.t += 1.0
        cpu.t += 0.4
        cap.sample_event_loop()
    assert cap.loop_cost == pytest.approx(0.004, rel=0.05)
    assert cap.calls == 200  # 0.8 / 0.004: the single loop thread, not the pool, limits
    assert cap.utilisation == pytest.approx(0.4, rel=0.1)  # the loop's
    assert cap.admits(199) and not cap.admits(200)


async def _sampled(cap: StreamCapacity) -> float:
    task = asyncio.create_task(watch_event_loop(cap, interval_seconds=0.01))
    await asyncio.sleep(0)  # the first sample sets the mark
    cap.received(50.0)
    t_end = time.thread_time() + 0.05
    while time.thread_time() < t_end:  # the loop thread busy for 50 ms of CPU
        pass
    await asyncio.sleep(0.05)
    task.cancel()
    return cap.loop_cost or 0.0


def test_watch_event_loop_charges_the_loop_thread_cpu_to_the_audio_received() -> None:
    cap = StreamCapacity(threads=1, max_utilisation=0.8, min_audio_seconds=10)
    cost = asyncio.run(_sampled(cap))
    # >= 50 ms of CPU burnt for 50 s of audio received
    assert cost >= 0.05 / 50 * 0.9
