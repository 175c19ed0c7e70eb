"""Deadlines (R-6.2.2): the working-day calendar, due-time policy, the deadline jobs, the scheduler
and its database lease."""
