"""Notifications: the outbox, its delivery gateways (SMS, 12345) and the wording of notices."""
