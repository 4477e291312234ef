"""Template tags and filters of the review app."""
