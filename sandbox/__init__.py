"""A local stand-in for Visma Connect and the part of the Dinero API the gateway uses."""
