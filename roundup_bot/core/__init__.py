"""The pure core: plain functions and frozen records, no I/O, no clock."""
