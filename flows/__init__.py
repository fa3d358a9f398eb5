"""The business steps as plain functions, read top-down; they never know they run in a task."""
