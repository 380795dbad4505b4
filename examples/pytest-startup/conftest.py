# A small test tree whose collection is dominated by imports, like a real
# project's `pytest --collect-only`: numpy and astropy (Debian packages) plus
# a slice of the standard library.
import json  # noqa: F401
import decimal  # noqa: F401
