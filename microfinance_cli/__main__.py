from microfinance_cli.main import app

app(prog_name="microfinance")
