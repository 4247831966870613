"""Integrations with the tools owners already run: MQTT (Home Assistant) and Prometheus."""
