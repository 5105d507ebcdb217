"""A shop's WooCommerce store as a source: connecting it (`connect`), its webhooks (`webhooks`),
reconcile that mends disabled webhooks and catches up (`reconcile`), and backfill."""
