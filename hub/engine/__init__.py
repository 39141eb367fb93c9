"""The hub's rule engine: every floor rule of RULES.md, with evidence, fair to agents, and
rebuildable from the event log.

`Engine(site, store, clock)` takes events (`process`), time (`tick`), device statuses
(`on_status`) and the contact-center feed (`on_acd`) and returns an `Outcome`: commands for
devices (tap feedback) and live updates for the web UI. Derived tables are written through
hub.store.derived. One module per rule family: badge, rollcall, away, equipment, facilities,
devices; calendar maps shifts to UTC; core holds the machinery.
"""

from hub.engine.core import Engine, Outcome, violation_json

__all__ = ["Engine", "Outcome", "violation_json"]
