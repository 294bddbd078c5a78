from vqcodec.cli import main

main()
