"""Hypothesis settings shared by the tests/test_fuzz_*.py files.

The normal suite runs each property for a few seconds. `FLOORWATCH_FUZZ_SCALE=50 pytest
tests/test_fuzz_*.py` multiplies every example budget for a long run (docs/fuzzing.md).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

SCALE = max(1, int(os.environ.get("FLOORWATCH_FUZZ_SCALE", "1")))


def fuzz(examples: int = 80) -> settings:
    return settings(max_examples=examples * SCALE, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
