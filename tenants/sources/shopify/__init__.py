"""The Shopify source (placeholder docstring; replaced at merge)."""
