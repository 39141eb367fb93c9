"""floorwatch hub: ingest MQTT into an append-only event log, judge it against the floor rules,
serve the web UI and exports, and offer the `floorwatch` CLI."""

__version__ = "0.1.0"
