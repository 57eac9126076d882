"""Pull requests: the entity, its participants and reviews, its activity stream, and its watchers."""
