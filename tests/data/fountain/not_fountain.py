"""A Python module passed by mistake."""

import os

DEBUG = True
PATH = os.getcwd()


def main() -> None:
    print(PATH)
