from kumiai.cli import main

main()
