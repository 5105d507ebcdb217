"""The WooCommerce stand-in: stores at `/_woocommerce/{name}`, the one-click key flow, the
REST API v3 endpoints the gateway uses (orders, refunds, webhooks, with WooCommerce's
pagination headers) and signed webhook deliveries with WooCommerce's behaviour: one try, no
retries, disabled after more than five failures in a row. Mounted into the sandbox app
(`sandbox.app`), steered through `/_sandbox/woocommerce/` (`control`)."""
