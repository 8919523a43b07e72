"""What ops change while the service runs: the admin API's config changes, ops messages and suppressions
(editorial), and edits of the config file."""
