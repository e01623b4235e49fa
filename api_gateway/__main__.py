from api_gateway.main import main

main()
