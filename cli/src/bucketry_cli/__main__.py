from bucketry_cli.app import main

main()
