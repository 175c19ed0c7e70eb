"""Who may do what: accounts and sign-in, the scoping rules (R-6.4.3 least privilege), personal data."""
