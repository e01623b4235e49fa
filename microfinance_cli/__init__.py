"""The `microfinance` command line: run, check and operate the service suite."""
