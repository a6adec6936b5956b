"""Bench scripts: each prints a table of figures beside a baseline measured in the same run.

python -m bench.run_all          # every bench, output kept in bench/RESULTS.md
python -m bench.<name> --help    # one bench
"""
