"""Stripe billing data: the loader (shared by the dump and the API path), the dump reader and the API client."""

# The one Stripe API version this project reads. The SDK requests it, the generator writes its shapes and the
# loader checks objects against it (see extract/tables.py, STRIPE_OBJECTS).
STRIPE_API_VERSION = "2024-06-20"
