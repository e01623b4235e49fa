from reporting_service.main import main

main()
