"""The live-call engine: calls, category tracking, tickets, notices, incidents, feedback."""
