"""Benchmark suite (issue #8) and the permissions performance scenario (issue #4).

Run everything with ``python -m bench --size 100000`` (see ``bench/README.md``). Nothing here is
imported by the product or collected by pytest (``testpaths = ["tests"]``).
"""
