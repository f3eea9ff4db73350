from tinyecg.app.cli import main

main()
