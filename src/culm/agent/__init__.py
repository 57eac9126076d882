"""Build agents: the loop that claims Bamboo jobs from a culm server and runs them (local or remote)."""
