"""For a subprocess a test stops with Ctrl-C (SIGINT): start it as a terminal would.

A shell without job control starts a background job (``nohup make test &``) with SIGINT ignored,
and every child inherits that: Python then installs no KeyboardInterrupt handler, so the test's
Ctrl-C would be lost and the test would wait out its timeout. Passed as ``preexec_fn``, this gives
the child the default disposition, and Python its usual handler."""

import signal


def sigint_as_at_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
