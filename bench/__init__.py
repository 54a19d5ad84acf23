"""The line's load benchmark (`make bench`): see bench/run.py and bench/RESULTS.md."""
