"""Comments on pull requests and commits: threads, file/line anchors, tasks (BLOCKER comments), reactions."""
