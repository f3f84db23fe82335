from curbench.cli import main

main()
