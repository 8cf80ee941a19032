from hiring_jobs.cli import main

main()
