"""What every shop platform's mapping shares: reading the platform's JSON field by field with
each problem kept under its pointer (`reading`), and parsing the canonical body it writes with
the problems told in the platform's own pointers (`events`). A platform's folder
(`gateway.shopify`, `gateway.woocommerce`) holds only what is its own."""
