from bucketry.cli.app import main

main()
