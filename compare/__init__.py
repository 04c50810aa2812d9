"""compare: run the same model on refimpl and the real runtimes, and diff the results.

``compare.runtimes`` is the one interface over every runtime (``get_runtime(name)``).
"""
