from tinyecg.cli import main

main()
