"""What each `blockpost` command does; cli.py parses the command line and picks one."""
