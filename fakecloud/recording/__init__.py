"""Recordings: motion-triggered and continuous clips, H.264 copied into fragmented MP4."""
