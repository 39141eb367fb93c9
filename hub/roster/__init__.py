"""The roster: rotations, calendar and month planning (config, patterns, calendar, planner, grid),
and the audited changes to it (changes: a roster import, revoking or replacing a badge)."""
