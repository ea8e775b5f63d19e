from dudao_cli.main import main

main()
