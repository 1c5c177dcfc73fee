"""The test suite. Importing it turns bytecode caching back on, before any module of the
project or of the tests is imported.

This machine (and CI's) sets PYTHONDONTWRITEBYTECODE. Without a cache every xdist worker
rewrites the asserts of every test module again, and every process a test starts (a
gateway, its workers, the simulator) compiles the whole project from source: about a
third of a second of CPU a process. The cache is __pycache__, which git and Docker ignore.
"""

import os
import sys

sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # the processes tests start cache too
