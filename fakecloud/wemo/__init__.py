"""The WeMo side of Wemo-branded NetCams: motion state over UPnP eventing (docs/motion.md)."""
