"""Who may do what: roles, accounts, API keys, personal data and its masking."""
