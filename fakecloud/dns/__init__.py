"""DNS shim (UDP and TCP), upstream forwarder with cache, and router recipes."""

from fakecloud.dns.part import DnsPart
from fakecloud.dns.recipes import RECIPE_FORMATS, render_recipe

__all__ = ["RECIPE_FORMATS", "DnsPart", "render_recipe"]
