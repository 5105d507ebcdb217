"""Shopify, as the gateway speaks it: the app install (OAuth authorization code grant) and
webhook verification, the GraphQL Admin API calls reconcile and backfill need, and Shopify's
order and refund JSON as canonical events. Protocol only: what a shop's source does with it
lives in `tenants.sources.shopify`."""
