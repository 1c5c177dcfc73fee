"""The one TLS context every httpx client in the tests shares.

httpx builds a context for each client it makes, loading the CA bundle each time: about
30 ms of CPU, more than many a test's own work. The tests speak plain HTTP on loopback
and never use it, but httpx builds it all the same, so they pass ``verify=SHARED_TLS``.
"""

import ssl

SHARED_TLS = ssl.create_default_context()
