"""fakecloud: a self-hosted stand-in for the Seedonk cloud behind Belkin (Wemo) NetCam cameras."""

__version__ = "0.1.0"
