"""Child-process entry of the refine worker (see ``worker.py``): ``python -m filmcrew.refine``."""

import sys

from .worker import child_main

if __name__ == "__main__":
    sys.exit(child_main())
