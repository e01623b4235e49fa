from user_service.main import main

main()
