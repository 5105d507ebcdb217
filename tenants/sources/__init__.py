"""Where a shop's orders come from. Every source verifies its own deliveries and maps them
to the canonical event (`gateway.orders.Event`), then hands them to the one ingest
transaction (`delivery.ingest`), so duplicates, ordering and exactly-once posting stay one
mechanism whatever the platform. The signed ingest API is the first source
(`signed_api`); a shop platform adds a module (or folder) here and a route in `web/`."""
