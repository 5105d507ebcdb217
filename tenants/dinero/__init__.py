"""Dinero as an accounting backend: everything that knows how Dinero books a document (one
organisation's books for posting's invoice and credit-note steps, `books`; Dinero's own
attempts for payments and manual vouchers; contacts; drafts from the accounting rules; the
conversation with one organisation; confirming payment status). Posting
(`tenants.posting`) drives it through `poster.Poster`, its `Backend`."""
