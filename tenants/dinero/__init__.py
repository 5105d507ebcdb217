"""Dinero as an accounting backend: everything that knows how Dinero books a document (the
attempts for invoices and credit notes, payments and manual vouchers; contacts; drafts from
the accounting rules; the conversation with one organisation; confirming payment status).
Posting (`tenants.posting`) drives it through `poster.Poster`, its `Backend`."""
