"""Server-side motion detection and the stored motion events (docs/motion.md)."""
