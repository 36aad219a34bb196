"""The machinery behind compare.py: lock-step training, statistics, tables and figures."""
