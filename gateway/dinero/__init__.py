"""The only code that talks to Dinero: its API client and the Visma Connect (OAuth) client."""
