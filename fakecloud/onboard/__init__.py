"""Setting a camera up without the dead app: drive its setup-mode HTTP API.

See docs/setup-camera.md."""
