"""Pure codecs for the Seedonk/Tend wire formats: bytes in, objects out, no I/O."""
