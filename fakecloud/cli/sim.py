"""Placeholder: the command group 'sim' is registered by its own part."""

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    pass
