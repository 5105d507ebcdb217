"""Shopify, as the gateway speaks it: its order and refund JSON as canonical events."""
