from hiring_jobs.cli import main

main(prog_name="hiring-jobs")
