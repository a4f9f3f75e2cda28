"""The commands blockpost's agent puts on every job's PATH (`artifact`, `sem-context`, `retry`).

Everything here runs inside the job, on the job's own `python3` (3.8 or newer, standard
library only): the agent copies this directory into the job's control dir, where a
sandbox or a container sees it too. `bin/` holds the programs the job's PATH names.
"""
