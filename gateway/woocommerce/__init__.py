"""WooCommerce, as the gateway speaks it: the one-click key flow (`keys`), webhook signatures
(`signature`), the REST API v3 calls reconcile and backfill need (`rest`), and WooCommerce's
order and refund JSON as canonical events (`mapping`, `refunds`, `taxes`). Protocol only: what
a shop's source does with it lives in `tenants.sources.woocommerce`."""
