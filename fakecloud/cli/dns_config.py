"""Placeholder: the command group 'dns_config' is registered by its own part."""

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    pass
