"""Load benchmark of the PIX checkout: run `.venv/bin/python bench/load.py --help`."""
