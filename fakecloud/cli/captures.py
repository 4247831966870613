"""Placeholder: the command group 'captures' is registered by its own part."""

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    pass
