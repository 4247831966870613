"""Placeholder: the command group 'account' is registered by its own part."""

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    pass
