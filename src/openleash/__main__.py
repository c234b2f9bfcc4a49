from openleash.cli.main import main

main()
