"""MQTT with Home Assistant discovery: every owned camera a device (docs/mqtt.md).

`url` parses FAKECLOUD_MQTT_URL, `discovery` builds topics and payloads (pure), `outbox` holds
what waits to be sent, `part` connects, reconnects and reacts to the event bus."""
