"""floorwatch edge agent: runs on each Raspberry Pi at a seat, door or kiosk.

Drivers (edge.drivers) turn reader bytes and GPIO edges into observations; the agent
(edge.agent) turns observations into wire events (edge.wire), writes them to a durable spool
(edge.spool) and publishes them over MQTT (edge.link, the only paho import on the edge).
"""

__version__ = "0.1.0"
