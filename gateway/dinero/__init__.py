"""The only code that talks to Dinero: its API client and the Visma Connect (OAuth) client.

What Dinero answers is read into frozen dataclasses, whatever the key casing, through
`jsonmoney`'s ObjectReader: amounts are `Decimal` and never defaulted (a missing total is a
`ParseError`, not a zero), unknown properties are ignored and only what the gateway uses is
kept; properties that a `fields=` list may leave out are optional. Each read model lives with
the calls that answer it (`contacts`, `sales`, `invoices`, `creditnotes`, `payments`,
`files`, `vouchers`, `organizations`); lists and pages are `pages`.
"""
