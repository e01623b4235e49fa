from loan_service.main import main

main()
