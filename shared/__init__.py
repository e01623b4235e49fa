"""Runtime code every microfinance service uses: config, logging, errors, money, clients."""
