"""Placeholder: the command group 'dns' is registered by its own part."""

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    pass
