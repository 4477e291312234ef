"""Readers for human-annotation files (CSV): pure parsing, no database."""
