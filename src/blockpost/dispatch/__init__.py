"""Job dispatch: agent types and agents, the job queue, the agent sync protocol, job logs."""
