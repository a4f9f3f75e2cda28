"""blockpost's own agent: speaks the official agent's protocol and runs jobs in bash."""
