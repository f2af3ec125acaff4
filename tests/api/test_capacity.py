"""api/capacity.py: the measured cost of live audio and the admission rule built on it."""

from __future__ import annotations

import pytest

from audio_detect.exceptions import ParameterError
from audio_detect_service.capacity import StreamCapacity


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


def test_calls_is_threads_times_utilisation_over_cost_and_admission_stops_there() -> None:
    cap = StreamCapacity(threads=2, max_utilisation=0.8, min_audio_seconds=1, clock=Clock())
    # 10 ms of pool time per second of call audio: 2 threads at 80 % keep 160 calls.
    for _ in range(100):
        cap.record(audio_seconds=1.0, busy_seconds=0.01)
    assert cap.calls == 160
    assert cap.admits(159) and not cap.admits(160) and not cap.admits(500)
    # A final scoring (no new audio) is cost too.
    cap.record(audio_seconds=0.0, busy_seconds=1.0)
    assert cap.calls == 80


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
