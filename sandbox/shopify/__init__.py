"""The Shopify stand-in: stores, the app install, the GraphQL Admin API (with Shopify's
cost-based throttling) and signed webhook deliveries with Shopify's retries. Mounted into the
sandbox app (`sandbox.app`), steered through `/_sandbox/shopify/` (`control`)."""
