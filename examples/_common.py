"""Shared by the examples: EMBER_QUICK=1 shortens every example (the test suite runs them that way)."""
import os

QUICK = os.environ.get("EMBER_QUICK", "") not in ("", "0")


def steps(full, quick):
    """The number of iterations to run: `full` normally, `quick` under EMBER_QUICK=1."""
    return quick if QUICK else full
