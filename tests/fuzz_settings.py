"""Hypothesis settings shared by the tests/test_fuzz_*.py files.

The normal suite runs each property for a few seconds, on examples derived from the test itself
(derandomized), so CI runs the same examples every time and a landing does not hinge on a draw.
`FLOORWATCH_FUZZ_SCALE=50 pytest tests/test_fuzz_*.py` multiplies every example budget and draws
at random: the long run is where new cases are found (docs/fuzzing.md); each one found becomes a
plain test beside the property (e.g. test_a_key_with_a_dot_is_named_quoted_as_toml_writes_it).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

SCALE = max(1, int(os.environ.get("FLOORWATCH_FUZZ_SCALE", "1")))


def fuzz(examples: int = 80) -> settings:
    return settings(max_examples=examples * SCALE, deadline=None, derandomize=SCALE == 1,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
