"""The deterministic demo company: app tables and a Stripe JSON dump (see `generator`)."""

from extract.demo.generator import DemoCompany, DemoConfig

__all__ = ["DemoCompany", "DemoConfig"]
